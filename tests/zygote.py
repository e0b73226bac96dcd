"""A warm start for `seqlab` processes: imports torch and seqlab once, then forks one child per
command, so each child is a process of its own (pid, exit code, file descriptors, signals,
memory) that skips the ~4 s of imports a fresh interpreter pays.

Run as a script (`python tests/zygote.py`) with the environment the commands should see (some
libraries read it at import). It reads one JSON request per line on stdin, {"args", "cwd",
"env", "stdout", "stderr"}, runs `seqlab ARGS` in a forked child with its output in those
files, and answers {"returncode": N} on stdout. `Zygote` is the test side of it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path


def _child(request: dict) -> None:
    """In the forked child: become `seqlab ARGS` in `cwd` with `env`; never returns."""
    code = 1
    try:
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        for fd, path in ((1, request["stdout"]), (2, request["stderr"])):
            os.dup2(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), fd)
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        sys.stdout = open(1, "w", encoding="utf-8", errors="replace", buffering=1, closefd=False)
        sys.stderr = open(2, "w", encoding="utf-8", errors="replace", buffering=1, closefd=False)
        sys.argv = ["seqlab", *request["args"]]
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.default_int_handler if sig == signal.SIGINT else signal.SIG_DFL)
        from seqlab.cli import main

        try:
            main()
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


WARM = ("torch", "hydra", "datasets", "safetensors.torch", "matplotlib.figure", "matplotlib.backends.backend_agg",
        "seqlab.cli", "seqlab.launch.command", "seqlab.engine.trainer", "seqlab.analysis.compare",
        "seqlab.analysis.compare_plot", "seqlab.plots.loss", "seqlab.sample_command")
"""What `seqlab` commands import anyway: imported once here, before any child is forked."""


def warm_up() -> None:
    """What every command pays for once per process besides imports, done before any fork: Hydra's
    plugin scan (Hydra's global state is cleared again), matplotlib's font cache, torch's first
    forward and backward."""
    import io

    import torch
    from hydra.core.global_hydra import GlobalHydra
    from matplotlib.figure import Figure

    from seqlab.config.compose import compose

    compose([], [])
    GlobalHydra.instance().clear()
    figure = Figure(figsize=(2, 2))
    figure.subplots().plot([0, 1], [1, 0], label="x")
    figure.savefig(io.BytesIO(), format="png")
    torch.nn.Linear(4, 4)(torch.ones(2, 4)).sum().backward()


def serve() -> None:
    import importlib

    for module in WARM:
        importlib.import_module(module)
    warm_up()

    for line in sys.stdin:
        pid = os.fork()
        if pid == 0:
            _child(json.loads(line))
        _, status = os.waitpid(pid, 0)
        print(json.dumps({"returncode": os.waitstatus_to_exitcode(status)}), flush=True)


class Zygote:
    """The test side: `run(args, cwd, env)` -> CompletedProcess, one command at a time."""

    def __init__(self, env: dict[str, str], scratch: Path) -> None:
        self.scratch = scratch
        scratch.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen([sys.executable, __file__], env=env, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)

    def run(self, args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
        out, err = self.scratch / "stdout", self.scratch / "stderr"
        request = {"args": args, "cwd": str(cwd), "env": env, "stdout": str(out), "stderr": str(err)}
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline()
        if not answer:
            raise RuntimeError(f"the zygote died running seqlab {' '.join(args)}")
        code = json.loads(answer)["returncode"]
        return subprocess.CompletedProcess(["seqlab", *args], code, out.read_text(errors="replace"),
                                           err.read_text(errors="replace"))

    def close(self) -> None:
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


if __name__ == "__main__":
    serve()
