"""`trainer.devices=N`: one run trained by N worker processes that seqlab starts itself.

The launching process (Hydra's job) has reserved the run folder; it starts N workers, forked
warm (seqlab/warm_start.py), each joining one process group through a file store in a fresh
temp folder, then watches them:
- Ctrl-C / SIGTERM to the launcher is forwarded once to every worker (they sit in their own
  process group, so a terminal's Ctrl-C reaches them only through here); the ranks agree
  each step to stop together, checkpoint, and exit 130/143, which the launcher returns.
- A worker that dies (killed, crashed) ends the run: the others fail their next collective
  (or time out after trainer.dist_timeout_s), get a grace period, then are stopped; the
  launcher prints one line naming the rank (and the checkpoint to resume from, if there is
  one), marks summary.json `failed` and exits 1. A worker whose launcher dies stops at its
  next step.
- The store's temp folder is removed when the launcher ends; one whose processes were all
  killed (kill -9 leaves it) is reclaimed at the next start: every process of a run holds a
  shared lock on the folder's owner file while it lives, so a folder nobody locks is stale.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

GRACE_S = 10.0  # how long the surviving ranks get to notice a dead peer and exit by themselves
STORE_PREFIX, OWNER = "seqlab-dist-", "owner.lock"


def train_on_devices(cfg: Any, run_dir: Path, devices: int) -> int:
    """Train the run in `run_dir` on `devices` worker processes; returns the exit code."""
    from omegaconf import OmegaConf

    from seqlab import warm_start

    container = OmegaConf.to_container(cfg, resolve=True)
    reclaim_stale_stores()
    store = Path(tempfile.mkdtemp(prefix=STORE_PREFIX))
    owner = hold_store(store)
    workers = [warm_start.process(worker_main, (container, str(run_dir), r, devices, f"file://{store}/store"),
                                  name=f"rank {r}") for r in range(devices)]
    forward = SignalForwarder(workers)
    try:
        with forward:
            for w in workers:
                w.start()
            code, failure = watch(workers, forward, run_dir)
    finally:
        for w in workers:
            if w.is_alive():
                w.kill()
        shutil.rmtree(store, ignore_errors=True)
        os.close(owner)
    if failure is not None:
        record_failure(cfg, run_dir, failure)
    return code


def hold_store(store: Path) -> int:
    """A shared lock on the store's owner file, held until the returned descriptor is closed (or
    the process dies): while any process of the run lives, the store is not stale."""
    fd = os.open(store / OWNER, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_SH)
    return fd


def reclaim_stale_stores(root: Path | None = None) -> list[Path]:
    """Remove this user's store folders that no live process holds (left by a launcher killed with
    -9); folders without an owner file (another seqlab's) are left alone. Returns those removed."""
    removed = []
    for store in sorted(Path(root or tempfile.gettempdir()).glob(f"{STORE_PREFIX}*")):
        try:
            if store.is_symlink() or not store.is_dir() or store.stat().st_uid != os.getuid():
                continue
            fd = os.open(store / OWNER, os.O_RDONLY)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # held: its run is alive
            continue
        else:
            shutil.rmtree(store, ignore_errors=True)
            removed.append(store)
        finally:
            os.close(fd)
    return removed


def record_failure(cfg: Any, run_dir: Path, reason: str) -> None:
    """summary.json `failed` for a run whose rank died (no rank lived to write one)."""
    from seqlab.errors import RunWriteError
    from seqlab.runs.folder import last_checkpoint_step
    from seqlab.runs.writer import RunDir

    summary = {"model": cfg.model.name, "task": cfg.task.name, "status": "failed", "error": reason,
               "world_size": cfg.trainer.devices, "checkpoint_step": last_checkpoint_step(run_dir)}
    try:
        RunDir(run_dir).write_summary(summary)
    except RunWriteError:  # the reason is on the console already
        pass


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


def watch(workers: list, forward: SignalForwarder, run_dir: Path) -> tuple[int, str | None]:
    """Wait for the workers; a failed one ends the others. Returns the run's exit code and, when
    a rank failed, why (the line printed)."""
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
        from seqlab.runs.folder import last_checkpoint_step

        rank, code = failed[0]
        why = f"was killed by {signal.Signals(-code).name}" if code < 0 else f"exited with code {code}"
        step = last_checkpoint_step(run_dir)
        after = (f"; its last checkpoint, step {step}, is intact: continue with: seqlab resume {run_dir}"
                 if step is not None else " before its first checkpoint: start it again")
        message = f"rank {rank} of {len(workers)} {why}; the run stopped{after}"
        print(f"error: {message}", file=sys.stderr)
        return 1, message
    return (codes[0] if codes[0] else max(codes)), None


def worker_main(container: dict, run_dir: str, rank: int, world_size: int, init_method: str) -> None:
    """One rank: join the group, train, leave; exits with the run's code."""
    from seqlab.launch.processes import signals_interrupt

    parent = os.getppid()  # the launcher, or the server that forked this rank (it ends with the launcher)
    os.setpgrp()  # a terminal's Ctrl-C reaches the launcher only, which forwards it once
    hold_store(Path(init_method.removeprefix("file://")).parent)  # released when this process ends
    with signals_interrupt():  # a signal while the rank is set up: cleaned up like Ctrl-C
        code = run_rank(container, Path(run_dir), rank, world_size, init_method, parent)
    leave(code)


def leave(code: int) -> None:
    """End a finished rank straight out, after what the interpreter's exit would run first: the
    interpreter's teardown of gloo's threads can abort a finished rank ("terminate called without
    an active exception", exit -6)."""
    from seqlab import warm_start

    warm_start.run_exit_functions()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def run_rank(container: dict, run_dir: Path, rank: int, world_size: int, init_method: str | None,
             parent_pid: int | None) -> int:
    """Train this rank of the run; user errors are printed by rank 0 only, one line."""
    import torch
    from omegaconf import OmegaConf

    from seqlab.engine.device import resolve_device
    from seqlab.engine.distributed import DistContext, destroy_process_group, init_process_group
    from seqlab.engine.trainer import Trainer, TrainingStopped
    from seqlab.errors import SeqlabError
    from seqlab.launch.processes import Interrupted, run_callbacks, stopped_line

    cfg = OmegaConf.create(container)
    ctx = DistContext(rank, world_size, rank if init_method else int(os.environ.get("LOCAL_RANK", rank)))
    if cfg.threads is None:  # N processes with every core each spin against each other
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // world_size))
    together = False  # whether every rank got to the end with us: then leave together
    try:
        device = resolve_device(cfg.device, ctx.local_rank)
        init_process_group(ctx, device, cfg.trainer.dist_backend, cfg.trainer.dist_timeout_s,
                           init_method or "env://")
        Trainer(cfg, run_dir, ctx, callbacks=run_callbacks(cfg), parent_pid=parent_pid).fit()
        together = True
        return 0
    except SeqlabError as err:
        if rank == 0:
            print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    except TrainingStopped as stop:
        together = True  # the ranks agreed on the stop step
        return stop.exit_code
    except KeyboardInterrupt as stop:  # a signal while the rank was set up (its data prepared)
        if rank == 0 and isinstance(stop, Interrupted):
            print(stopped_line(stop, run_dir), file=sys.stderr)
        return getattr(stop, "exit_code", 130)
    except RuntimeError as err:  # torch.distributed's errors: a dead peer, a timed-out collective
        if parent_pid is None:  # under seqlab's own launcher, it names the rank that failed
            print(f"error: rank {rank}: {str(err).strip().splitlines()[0]}", file=sys.stderr)
        return 1
    finally:
        destroy_process_group(barrier=together)
