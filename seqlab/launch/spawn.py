"""`trainer.devices=N`: one run trained by N worker processes that seqlab starts itself.

The launching process (Hydra's job) has reserved the run folder; it starts N workers with
torch.multiprocessing (spawn), each joining one process group through a file store in a
fresh temp folder, then watches them:
- Ctrl-C / SIGTERM to the launcher is forwarded once to every worker (they sit in their own
  process group, so a terminal's Ctrl-C reaches them only through here); the ranks agree
  each step to stop together, checkpoint, and exit 130/143, which the launcher returns.
- A worker that dies (killed, crashed) ends the run: the others fail their next collective
  (or time out after trainer.dist_timeout_s), get a grace period, then are stopped; the
  launcher prints one line naming the rank and exits 1. A worker whose launcher dies stops
  at its next step.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

GRACE_S = 10.0  # how long the surviving ranks get to notice a dead peer and exit by themselves


def train_on_devices(cfg: Any, run_dir: Path, devices: int) -> int:
    """Train the run in `run_dir` on `devices` worker processes; returns the exit code."""
    import torch.multiprocessing as mp
    from omegaconf import OmegaConf

    container = OmegaConf.to_container(cfg, resolve=True)
    store = Path(tempfile.mkdtemp(prefix="seqlab-dist-"))
    ctx = mp.get_context("spawn")
    workers = [ctx.Process(target=worker_main, name=f"rank {r}",
                           args=(container, str(run_dir), r, devices, f"file://{store}/store", os.getpid()))
               for r in range(devices)]
    forward = SignalForwarder(workers)
    try:
        with forward:
            for w in workers:
                w.start()
            return watch(workers, forward)
    finally:
        for w in workers:
            if w.is_alive():
                w.kill()
        shutil.rmtree(store, ignore_errors=True)


class SignalForwarder:
    """While active, SIGINT/SIGTERM to this process go to every worker instead."""

    def __init__(self, workers: list) -> None:
        self.workers, self.signum, self._previous = workers, None, {}

    def _handle(self, signum: int, frame: Any) -> None:
        self.signum = self.signum or signum
        for w in self.workers:
            if w.is_alive():
                os.kill(w.pid, signum)

    def __enter__(self) -> SignalForwarder:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def watch(workers: list, forward: SignalForwarder) -> int:
    """Wait for the workers; a failed one ends the others. Returns the run's exit code."""
    failed_at = None
    while any(w.is_alive() for w in workers):
        time.sleep(0.1)
        bad = [w for w in workers if w.exitcode not in (None, 0, 2, 130, 143)]
        if bad and failed_at is None:
            failed_at = time.monotonic()
        if failed_at is not None and time.monotonic() - failed_at > GRACE_S:
            for w in workers:
                if w.is_alive():
                    w.kill()
    codes = [w.exitcode for w in workers]
    # The cause first: a rank killed by a signal, before the ones that then lost their peer.
    failed = sorted(((r, c) for r, c in enumerate(codes) if c not in (0, 2, 130, 143)), key=lambda rc: rc[1] > 0)
    if failed:
        rank, code = failed[0]
        why = f"was killed by {signal.Signals(-code).name}" if code < 0 else f"exited with code {code}"
        print(f"error: rank {rank} of {len(workers)} {why}; the run stopped (its last checkpoint is "
              f"intact: continue with seqlab resume)", file=sys.stderr)
        return 1
    return codes[0] if codes[0] else max(codes)


def worker_main(container: dict, run_dir: str, rank: int, world_size: int, init_method: str,
                launcher_pid: int) -> None:
    """One rank: join the group, train, leave; exits with the run's code."""
    os.setpgrp()  # a terminal's Ctrl-C reaches the launcher only, which forwards it once
    code = run_rank(container, Path(run_dir), rank, world_size, init_method, launcher_pid)
    sys.stdout.flush()
    sys.stderr.flush()
    # Straight out: the interpreter's teardown of gloo's threads can abort a finished rank.
    os._exit(code)


def run_rank(container: dict, run_dir: Path, rank: int, world_size: int, init_method: str | None,
             launcher_pid: int | None) -> int:
    """Train this rank of the run; user errors are printed by rank 0 only, one line."""
    import torch
    from omegaconf import OmegaConf

    from seqlab.engine.device import resolve_device
    from seqlab.engine.distributed import DistContext, destroy_process_group, init_process_group
    from seqlab.engine.trainer import Trainer, TrainingStopped
    from seqlab.errors import SeqlabError
    from seqlab.launch.processes import run_callbacks

    cfg = OmegaConf.create(container)
    ctx = DistContext(rank, world_size, rank if init_method else int(os.environ.get("LOCAL_RANK", rank)))
    if cfg.threads is None:  # N processes with every core each spin against each other
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // world_size))
    together = False  # whether every rank got to the end with us: then leave together
    try:
        device = resolve_device(cfg.device, ctx.local_rank)
        init_process_group(ctx, device, cfg.trainer.dist_backend, cfg.trainer.dist_timeout_s,
                           init_method or "env://")
        Trainer(cfg, run_dir, ctx, callbacks=run_callbacks(cfg), launcher_pid=launcher_pid).fit()
        together = True
        return 0
    except SeqlabError as err:
        if rank == 0:
            print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    except TrainingStopped as stop:
        together = True  # the ranks agreed on the stop step
        return stop.exit_code
    except RuntimeError as err:  # torch.distributed's errors: a dead peer, a timed-out collective
        if launcher_pid is None:  # under seqlab's own launcher, it names the rank that failed
            print(f"error: rank {rank}: {str(err).strip().splitlines()[0]}", file=sys.stderr)
        return 1
    finally:
        destroy_process_group(barrier=together)
