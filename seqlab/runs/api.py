"""A run folder from Python (a notebook, a script): `seqlab.load_run(path)`.

    run = seqlab.load_run("outputs/2026-11-26/13-00-13_gru_tinystories")
    run.config["model"]["hidden_size"]      # the resolved config, as nested dicts
    run.metrics[-1]["val_loss"]             # metrics.jsonl, one dict per logged step
    run.summary["status"]                   # summary.json (filled from the metrics while running)
    run.metrics_frame()                     # the metrics as a pandas DataFrame
    model, vocab = run.model(), run.tokenizer()

Reading the folder needs no torch; `model()` and `tokenizer()` load the checkpoint (torch).
A run still going or with a broken file is read as far as it goes, like `seqlab compare`
does, with its gaps in `warnings`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seqlab.errors import SeqlabError
from seqlab.runs import CONFIG
from seqlab.runs.reader import load_run as read_run
from seqlab.runs.reader import require_run


@dataclass
class RunData:
    """One run folder: its config, metrics and summary, and its checkpoint on demand."""

    path: Path
    config: dict[str, Any]
    """config.yaml as nested dicts (`run.config["trainer"]["lr"]`)."""
    metrics: list[dict[str, Any]]
    """metrics.jsonl: one dict per logged step, in step order."""
    summary: dict[str, Any]
    """summary.json; a run without one (still running, crashed) gets what its metrics tell."""
    warnings: list[str] = field(default_factory=list)
    """What could not be read (a missing or torn file), one line each."""

    def metrics_frame(self):
        """The metrics as a pandas DataFrame, one row per logged step (needs pandas)."""
        try:
            import pandas as pd
        except ImportError:
            raise SeqlabError("metrics_frame() needs pandas: pip install pandas "
                              "(run.metrics has the same records as dicts)") from None
        return pd.DataFrame(self.metrics)

    def checkpoint(self, which: str = "last", device: str = "cpu"):
        """The loaded checkpoint (model, vocabulary, metadata): `last` or `best`."""
        from seqlab.runs.checkpoint import load_checkpoint

        return load_checkpoint(self.path, which, device=device)

    def model(self, which: str = "last", device: str = "cpu"):
        """The trained model from its `last` (or `best`) checkpoint, in eval mode."""
        return self.checkpoint(which, device).model.eval()

    def tokenizer(self, which: str = "last"):
        """The run's vocabulary: `encode(text)` -> ids, `decode(ids)` -> text."""
        return self.checkpoint(which).vocab

    def __repr__(self) -> str:
        s = self.summary
        return (f"RunData({str(self.path)!r}: {s.get('model', '?')} on {s.get('task', '?')}, "
                f"{s.get('status', '?')} at step {s.get('steps', '?')}, {len(self.metrics)} metrics records)")


def load_run(path: str | Path) -> RunData:
    """Read the run folder at `path` (a SeqlabError when it is none: a sweep folder names its runs)."""
    import yaml

    path = Path(path).expanduser()
    if not path.is_dir():
        raise SeqlabError(f"no such run folder: '{path}'")
    require_run(path)
    if not (path / CONFIG).is_file():
        raise SeqlabError(f"'{path}' is not a seqlab run folder (no {CONFIG})")
    warnings: list[str] = []
    run = read_run(path, warnings.append)
    try:
        config = yaml.safe_load((path / CONFIG).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as err:
        raise SeqlabError(f"'{path / CONFIG}' cannot be read: {err}") from None
    return RunData(path, config, run.records, run.summary, warnings)
