"""Where a run's processes come from, seen from `seqlab train`.

- `trainer.devices=N` (N > 1), started by hand: the Hydra job reserves the run folder and
  spawns N ranks (seqlab/launch/spawn.py); it holds the folder's lock while they train.
- An outside launcher (torchrun, a multi-task submitit job) starts `seqlab train` N times
  with RANK / WORLD_SIZE set: the ranks join one process group first, rank 0 resolves and
  locks the run folder and tells the others, which write nothing of their own into it
  (no .hydra/, no train.log) and train with it as rank r.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
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


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM while a run is being set up (its folder, its data): raised like Ctrl-C's
    KeyboardInterrupt, so both get the same clean-up on their way out."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum
        self.exit_code = 128 + signum
        self.name = signal.Signals(signum).name


@contextmanager
def signals_interrupt() -> Iterator[None]:
    """While active, SIGTERM (and Ctrl-C) raise Interrupted: a fresh run folder and a half-prepared
    cache entry are removed on the way out, as for Ctrl-C, instead of SIGTERM's default death that
    leaves both behind. The training loop installs its own handlers meanwhile (a clean stop at the
    next step: seqlab/engine/signals.py)."""
    def handle(signum: int, frame: Any) -> None:
        raise Interrupted(signum)

    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            previous[sig] = signal.signal(sig, handle)
        except ValueError:  # not the main thread: leave signals alone
            break
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def stopped_line(stop: Interrupted, run_dir: Path | None) -> str:
    """What a run stopped by a signal outside its training loop says."""
    from seqlab.runs.folder import last_checkpoint_step

    step = last_checkpoint_step(run_dir) if run_dir is not None else None
    if step is not None:
        return f"stopped by {stop.name}; its last checkpoint is step {step}: continue with: seqlab resume {run_dir}"
    return f"stopped by {stop.name} before the run's first checkpoint (a fresh run folder is removed)"


def run_callbacks(cfg: Any) -> list:
    """A run's observers: the default ones, then one tracker per entry of the config's `logger`
    group (built before any data loads, so a bad logger setting fails at once)."""
    from seqlab.engine.callbacks import default_callbacks
    from seqlab.tracking import build_trackers

    return [*default_callbacks(), *build_trackers(cfg)]


def cpu_cores() -> int:
    """The cores this process may run on (a container's or taskset's share, not the machine's)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


# Where each tracker writes, and how to look at it: one line at the start of a run.
TRACKER_PLACES = {
    "tensorboard": lambda c, run: (f"tensorboard: event files in {run / c.log_dir}; "
                                   f"view them with: tensorboard --logdir {run / c.log_dir}"),
    "mlflow": lambda c, run: (f"mlflow: this run goes to {c.tracking_uri}; "
                              f"view it with: mlflow ui --backend-store-uri {c.tracking_uri}"),
    "wandb": lambda c, run: f"wandb ({c.mode}): the run's files in {run / 'wandb'}",
}


def start_lines(cfg: Any, run_dir: Path) -> None:
    """Said once before training, on stderr and in train.log: the processes a run trains on
    (a warning when a CPU run has more of them than cores) and where each tracker writes."""
    from seqlab.engine.device import resolve_device

    log = logging.getLogger("seqlab")
    t = cfg.trainer

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)
        log.info(line)

    if t.devices > 1:
        say(f"{t.devices} processes train this run (DistributedDataParallel): global batch "
            f"{t.batch_size * t.devices * t.grad_accum_steps} = batch_size {t.batch_size} × {t.devices} "
            f"devices × {t.grad_accum_steps} grad_accum_steps")
        cores = cpu_cores()
        if resolve_device(cfg.device).type == "cpu" and t.devices > cores:
            log.warning("trainer.devices=%d on %d CPU core(s): the processes share the cores, so each step "
                        "is slower than on %d process(es)", t.devices, cores, cores)
    for name, tracker in (cfg.get("logger") or {}).items():
        if name in TRACKER_PLACES:
            say(TRACKER_PLACES[name](tracker, Path(run_dir)))


def train(cfg: Any, run_dir: Path) -> tuple[dict[str, Any] | None, int]:
    """Train the run in this process, or across spawned ranks: (summary, exit code)."""
    import json

    from seqlab.engine.trainer import Trainer
    from seqlab.launch.spawn import train_on_devices

    ctx = env_context()
    callbacks = run_callbacks(cfg)  # first: a bad logger setting fails before anything is said
    if ctx is None or ctx.is_main:
        start_lines(cfg, run_dir)
    if ctx is not None:  # a submitit task joins here; torchrun ranks joined in join_outside_launcher
        from seqlab.engine.device import resolve_device

        t = cfg.trainer
        init_process_group(ctx, resolve_device(cfg.device, ctx.local_rank), t.dist_backend, t.dist_timeout_s)
    if ctx is None and cfg.trainer.devices > 1:
        code = train_on_devices(cfg, run_dir, cfg.trainer.devices)
        summary = run_dir / SUMMARY
        return (json.loads(summary.read_text()) if code == 0 and summary.exists() else None), code
    if ctx is None:
        return Trainer(cfg, run_dir, callbacks=callbacks).fit(), 0
    from seqlab.engine.distributed import destroy_process_group
    from seqlab.engine.trainer import TrainingStopped

    try:
        summary = Trainer(cfg, run_dir, dist=ctx, callbacks=callbacks).fit()
    except TrainingStopped:
        destroy_process_group(barrier=True)  # every rank stopped at the same step
        raise
    destroy_process_group(barrier=True)
    return summary, 0
