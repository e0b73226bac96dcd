"""Child processes that start warm: the ranks of `trainer.devices=N`, the trials of `seqlab
search` and the runs of `seqlab reproduce` are forked by a server that imported torch and seqlab
once, so each child skips the seconds a new interpreter spends importing them (most of a short
trial's time).

A child is still a process of its own (pid, signals, exit code, files, memory). The server is
multiprocessing's "forkserver": a fresh, single-threaded process (none of the parent's threads,
locks or CUDA state), started on first use and ending with the process that started it. Where
there is none (Windows), children are spawned. A child takes the environment of the moment it
is started, not the server's (that of the server's start).
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

PRELOAD = ["torch", "seqlab.cli", "seqlab.launch.command", "seqlab.launch.processes", "seqlab.engine.trainer",
           "seqlab.plots.loss", "matplotlib.backends.backend_agg", "matplotlib.figure"]
"""What the server imports before it forks anything: what a rank or a `seqlab train` imports anyway."""


def _context(preload: Sequence[str]):
    import multiprocessing

    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([*PRELOAD, *preload])  # one server per process: its first start's list
    return context


def process(target: Callable[..., Any], args: tuple, name: str, env: dict[str, str] | None = None,
            preload: Sequence[str] = ()):
    """An unstarted process that runs `target(*args)` in `env` (by default, this process's present
    environment); `preload`: modules the server imports too (one that is not installed is skipped)."""
    env = dict(os.environ) if env is None else env
    return _context(preload).Process(target=_in_environment, args=(env, target, args), name=name)


def _in_environment(env: dict[str, str], target: Callable[..., Any], args: tuple) -> None:
    os.environ.clear()
    os.environ.update(env)
    threads = env.get("OMP_NUM_THREADS", "")
    if threads.isdigit() and int(threads) > 0:  # torch read the server's environment at import
        import torch

        torch.set_num_threads(int(threads))
    target(*args)


def seqlab_command(args: list[str], console: Path, name: str, env: dict[str, str] | None = None,
                   preload: Sequence[str] = (), own_group: bool = True):
    """An unstarted `seqlab ARGS`, its output (stdout and stderr) appended to `console`. With
    `own_group`, a child tied to its starter: in a process group of its own (setsid: a terminal's
    Ctrl-C reaches it only through its starter), sent SIGTERM on Linux when the starter dies.
    Without, as a plain subprocess: in its starter's group (a terminal's Ctrl-C reaches both),
    outliving it."""
    return process(_run_seqlab, (list(args), str(console), own_group), name, env, preload)


def _run_seqlab(args: list[str], console: str, own_group: bool) -> None:
    if own_group:
        os.setsid()
    if own_group and sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG: the server ends with our starter
    out = os.open(console, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    for fd in (1, 2):
        os.dup2(out, fd)
    os.close(out)
    sys.stdout = open(1, "w", encoding="utf-8", errors="replace", buffering=1, closefd=False)
    sys.stderr = open(2, "w", encoding="utf-8", errors="replace", buffering=1, closefd=False)
    sys.argv = ["seqlab", *args]
    import runpy

    try:  # this process becomes `python -m seqlab ARGS`; its SystemExit is the exit code
        runpy.run_module("seqlab", run_name="__main__", alter_sys=True)
    finally:
        run_exit_functions()


def run_exit_functions() -> None:
    """What an interpreter's exit runs before its teardown, in its order: threading's exit functions
    (joblib's workers stop with their sweep) and its threads joined, then atexit's. A forked child
    runs neither by itself."""
    import atexit
    import threading

    threading._shutdown()
    atexit._run_exitfuncs()
