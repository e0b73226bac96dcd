"""What trackers read from the run folder, and the little state they keep in it.

The run folder is the source of truth; trackers mirror it. `trackers.json` in the run
folder keeps each tracker's run id and the last step it logged, so a resume continues
the same tracker run without logging a step twice.
"""

from __future__ import annotations

import math
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from seqlab.data.saved import damaged, read_json
from seqlab.runs import SHOWN, sample_block
from seqlab.runs.atomic import atomic_write_json
from seqlab.runs.reader import flatten

STATE_FILE = "trackers.json"


def flat_config(cfg: Any) -> dict[str, Any]:
    """The resolved config as dotted keys: {"model.hidden_size": 256, ...}."""
    return flatten(OmegaConf.to_container(cfg, resolve=True))


def scalars(values: dict[str, Any], skip: tuple[str, ...] = ("step",)) -> dict[str, float]:
    """The finite numbers of a record or summary (no bools, no None, no strings)."""
    return {k: float(v) for k, v in values.items()
            if k not in skip and isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)}


def step_samples(samples_file: Path, step: int) -> str | None:
    """The samples.txt block of evaluation `step` (its header line and samples), or None."""
    if not samples_file.is_file():
        return None
    return sample_block(samples_file.read_text(encoding="utf-8", errors="replace"), step)


def artifacts(run_path: Path) -> list[Path]:
    return [run_path / name for name in SHOWN if (run_path / name).is_file()]


@lru_cache(maxsize=1)
def git_commit() -> str | None:
    """The commit of the seqlab checkout that trains (None outside a git checkout)."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
                             text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def sweep_folder(run_path: Path) -> Path | None:
    """The sweep folder a run belongs to (Hydra writes multirun.yaml there), or None."""
    parent = run_path.resolve().parent
    return parent if (parent / "multirun.yaml").is_file() else None


def experiment_name(cfg: Any, configured: str | None) -> str:
    return configured or cfg.get("experiment") or "seqlab"


STATE_FIX = "delete it to go on without it (each tracker then starts a new run of its own)"


def _all_states(run_path: Path) -> dict[str, Any]:
    """trackers.json ({} when there is none yet); damage is one line naming it (seqlab/data/saved.py)."""
    path = run_path / STATE_FILE
    return read_json(path, STATE_FIX) if path.exists() else {}


def load_state(run_path: Path, tracker: str) -> dict[str, Any]:
    """What `tracker` saved about this run ({} for a fresh run)."""
    state = _all_states(run_path).get(tracker, {})
    if not isinstance(state, dict):
        raise damaged(run_path / STATE_FILE, f"its {tracker!r} entry is not a JSON object", STATE_FIX)
    return state


def save_state(run_path: Path, tracker: str, state: dict[str, Any]) -> None:
    everything = _all_states(run_path)
    everything[tracker] = state
    atomic_write_json(run_path / STATE_FILE, everything)
