"""`seqlab ARGS` run inside the test process, as a subprocess would run it, minus the ~4 s of
importing torch and seqlab again.

What a fresh process would not share with the tests is set up and put back around each call:
the working directory, the environment, sys.argv, stdout/stderr (captured), the warnings
filters and their display (the process default: each warning shown once per call), the
logging handlers Hydra's job logging adds (closed, so no later line reaches an old
train.log), Hydra's global state, and torch's thread count. What needs a real process
(signals, kill -9, two processes on one lock, torchrun, the README's commands, the console
entry point's import cost) stays a subprocess: `run_cli(..., process=True)`.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import subprocess
import sys
import traceback
import warnings
from pathlib import Path


def _exit_code(err: SystemExit) -> int:
    if err.code is None:
        return 0
    return err.code if isinstance(err.code, int) else 1


@contextlib.contextmanager
def _process_state(args: list[str], cwd: Path, env: dict[str, str]):
    """The state a fresh `python -m seqlab ARGS` would start from; restored afterwards."""
    import torch

    saved_env, saved_cwd, saved_argv = dict(os.environ), os.getcwd(), sys.argv
    threads, loggers = torch.get_num_threads(), _logging_state()
    os.environ.update(env)
    os.chdir(cwd)
    sys.argv = ["seqlab", *args]
    try:
        with warnings.catch_warnings():
            warnings.resetwarnings()
            warnings.simplefilter("default")
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            warnings.showwarning = warnings._showwarning_orig  # to stderr, not pytest's record
            yield
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
        sys.argv = saved_argv
        torch.set_num_threads(threads)
        _restore_logging(loggers)
        _clear_hydra()


def _logging_state() -> dict[str, tuple[list, int, bool]]:
    names = ["", *logging.root.manager.loggerDict]
    return {n: (list(lg.handlers), lg.level, lg.propagate) for n in names
            if isinstance(lg := logging.getLogger(n), logging.Logger)}


def _restore_logging(saved: dict[str, tuple[list, int, bool]]) -> None:
    for name in ["", *logging.root.manager.loggerDict]:
        logger = logging.getLogger(name)
        if not isinstance(logger, logging.Logger):
            continue
        handlers, level, propagate = saved.get(name, ([], logging.NOTSET, True))
        for handler in logger.handlers:
            if handler not in handlers:
                handler.close()
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate = propagate
        logger.disabled = False


def _clear_hydra() -> None:
    from hydra.core.global_hydra import GlobalHydra

    if GlobalHydra.instance().is_initialized():
        GlobalHydra.instance().clear()


def run_in_process(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """`seqlab ARGS` through the console entry point, in this process."""
    from seqlab.cli import main

    out, err = io.StringIO(), io.StringIO()
    code = 0
    with _process_state(args, cwd, env), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main()
        except SystemExit as exit_:
            code = _exit_code(exit_)
        except BaseException:  # an uncaught error: the traceback a process would print, exit 1
            traceback.print_exc()
            code = 1
    return subprocess.CompletedProcess(["seqlab", *args], code, out.getvalue(), err.getvalue())
