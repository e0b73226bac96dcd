"""Where a run's processes come from, seen from `seqlab train`.

- `trainer.devices=N` (N > 1), started by hand: the Hydra job reserves the run folder and
  spawns N ranks (seqlab/launch/spawn.py); it holds the folder's lock while they train.
- An outside launcher (torchrun, a multi-task submitit job) starts `seqlab train` N times
  with RANK / WORLD_SIZE set: the ranks join one process group first, rank 0 resolves and
  locks the run folder and tells the others, which write nothing of their own into it
  (no .hydra/, no train.log) and train with it as rank r.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from seqlab.engine.distributed import (
    DistContext,
    broadcast_from_main,
    env_context,
    init_process_group,
)
from seqlab.errors import SeqlabError
from seqlab.runs import SUMMARY

QUIET_RANK = ["hydra.output_subdir=null", "hydra/job_logging=disabled"]


def join_outside_launcher(cfg: Any, multirun: bool) -> DistContext | None:
    """The process group an outside launcher set up (joined here), or None when there is none."""
    from seqlab.engine.device import resolve_device

    ctx = env_context()
    if ctx is None:
        return None
    if multirun:
        raise SeqlabError("a sweep (-m) cannot run inside torchrun: launch the sweep, and give each "
                          "run trainer.devices=N instead")
    t = cfg.trainer
    init_process_group(ctx, resolve_device(cfg.device, ctx.local_rank), t.dist_backend, t.dist_timeout_s)
    return ctx


def share_run_folder(ctx: DistContext, folder: Path | None, pin: list[str]) -> tuple[Path, list[str]]:
    """Rank 0's run folder and Hydra pin on every rank; the other ranks also keep out of it."""
    folder, pin = broadcast_from_main((folder, pin), ctx)
    return folder, pin if ctx.is_main else [*pin, *QUIET_RANK]


def run_callbacks(cfg: Any) -> list:
    """A run's observers: the default ones, then one tracker per entry of the config's `logger`
    group (built before any data loads, so a bad logger setting fails at once)."""
    from seqlab.engine.callbacks import default_callbacks
    from seqlab.tracking import build_trackers

    return [*default_callbacks(), *build_trackers(cfg)]


def train(cfg: Any, run_dir: Path) -> tuple[dict[str, Any] | None, int]:
    """Train the run in this process, or across spawned ranks: (summary, exit code)."""
    import json

    from seqlab.engine.trainer import Trainer
    from seqlab.launch.spawn import train_on_devices

    ctx = env_context()
    if ctx is not None:  # a submitit task joins here; torchrun ranks joined in join_outside_launcher
        from seqlab.engine.device import resolve_device

        t = cfg.trainer
        init_process_group(ctx, resolve_device(cfg.device, ctx.local_rank), t.dist_backend, t.dist_timeout_s)
    if ctx is None and cfg.trainer.devices > 1:
        code = train_on_devices(cfg, run_dir, cfg.trainer.devices)
        summary = run_dir / SUMMARY
        return (json.loads(summary.read_text()) if code == 0 and summary.exists() else None), code
    if ctx is None:
        return Trainer(cfg, run_dir, callbacks=run_callbacks(cfg)).fit(), 0
    from seqlab.engine.distributed import destroy_process_group
    from seqlab.engine.trainer import TrainingStopped

    try:
        summary = Trainer(cfg, run_dir, dist=ctx, callbacks=run_callbacks(cfg)).fit()
    except TrainingStopped:
        destroy_process_group(barrier=True)  # every rank stopped at the same step
        raise
    destroy_process_group(barrier=True)
    return summary, 0
