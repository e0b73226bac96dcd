"""Checks run before a run folder exists: a run refused for its input leaves nothing on disk.

Everything here needs only the composed config (no data, no weights). What only the data can
tell (a missing task.source, a sequence longer than the data) is found by the Trainer, and a
fresh folder is then removed again (seqlab/runs/folder.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from seqlab.runs import CHECKPOINTS, LAST, SUMMARY


def check_before_run(cfg: Any) -> None:
    """Raise SeqlabError for a config that cannot train: values, names, device, resume target."""
    from seqlab.config.validate import validate_config
    from seqlab.engine.device import resolve_device
    from seqlab.engine.precision import check_precision
    from seqlab.registry import check_serves
    from seqlab.runs.checkpoint import resolve_checkpoint

    validate_config(cfg)
    check_serves(cfg.model.name, cfg.task.name)  # known names, and a model that serves the task
    check_precision(cfg.trainer.precision, resolve_device(cfg.device))
    if cfg.trainer.resume and cfg.trainer.resume != "auto":
        check_world_size(resolve_checkpoint(Path(cfg.trainer.resume), "last"), cfg.trainer.devices)


def check_world_size(step_folder: Path, devices: int) -> None:
    """A multi-process run resumes at the world size it was trained at (each rank's data stream
    is its own): refused here, before Hydra rewrites anything in the run folder."""
    import os

    from seqlab.errors import SeqlabError

    world = int(os.environ.get("WORLD_SIZE", devices))
    try:
        trained = json.loads((step_folder / "train_state.json").read_text())["state"].get("world_size", 1)
    except (OSError, ValueError, KeyError):
        return  # unreadable: the Trainer says so with its own error
    if trained != world:
        raise SeqlabError(f"checkpoint '{step_folder}' was trained on {trained} process(es); resume it "
                          f"with trainer.devices={trained} (each rank's data stream is its own)")


def completed_step(run_dir: Path, max_steps: int) -> int | None:
    """The step a completed run ended at, if it already reached `max_steps` (nothing to resume).
    The summary must be of the last checkpoint: one left by an earlier stretch of a run
    killed later (kill -9 writes no summary) says nothing about it."""
    run_dir = Path(run_dir)
    try:
        summary = json.loads((run_dir / SUMMARY).read_text())
        step = json.loads((run_dir / CHECKPOINTS / LAST).read_text())["step"]
        done = summary["status"] == "completed" and summary["steps"] == step
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return step if done and step >= max_steps else None


def complete_message(run_dir: Path, step: int) -> str:
    return (f"run '{run_dir}' is complete at step {step}; nothing was changed. To train it further: "
            f"seqlab resume {run_dir} trainer.max_steps=M (M > {step})")
