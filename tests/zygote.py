"""A warm start for `seqlab` processes: imports torch and seqlab once, then forks one child per
command, so each child is a process of its own (pid, exit code, file descriptors, signals,
memory) that skips the ~4 s of imports a fresh interpreter pays.

Run as a script (`python tests/zygote.py`) with the environment the commands should see (some
libraries read it at import). It reads one JSON request per line on stdin, {"args", "cwd",
"env", "stdout", "stderr", "session"}, forks a child that runs `seqlab ARGS` with its output in
those files (in a session of its own when asked), and answers {"started": PID} on stdout, then
{"exited": PID, "returncode": N} when that child ends; children may run side by side. `Zygote` is
the test side of it: `run` (a CompletedProcess) and `start` (a Popen-like WarmProcess).
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path


def _child(request: dict) -> None:
    """In the forked child: become `seqlab ARGS` in `cwd` with `env`; never returns."""
    code = 1
    try:
        if request.get("session"):
            os.setsid()
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
        from seqlab.warm_start import run_exit_functions

        run_exit_functions()
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

    say, running = threading.Lock(), threading.Semaphore(0)  # one release per child forked

    def answer(message: dict) -> None:
        with say:
            print(json.dumps(message), flush=True)

    def reap() -> None:  # every child's end, as it comes
        while running.acquire():
            pid, status = os.waitpid(-1, 0)
            answer({"exited": pid, "returncode": os.waitstatus_to_exitcode(status)})

    threading.Thread(target=reap, daemon=True).start()
    for line in sys.stdin:
        pid = os.fork()
        if pid == 0:
            _child(json.loads(line))
        running.release()
        answer({"started": pid})


class WarmProcess:
    """A child of the zygote, used like subprocess.Popen (text mode, output in files)."""

    def __init__(self, zygote: Zygote, pid: int, args: list[str], out: Path, err: Path) -> None:
        self.zygote, self.pid, self.args, self.out, self.err = zygote, pid, args, out, err
        self.returncode: int | None = None

    def poll(self) -> int | None:
        self.returncode = self.zygote.exits.get(self.pid)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        zygote = self.zygote
        with zygote.ended:
            if not zygote.ended.wait_for(lambda: self.pid in zygote.exits or zygote.gone, timeout):
                raise subprocess.TimeoutExpired(self.args, timeout)
        if self.poll() is None:
            raise RuntimeError(f"the zygote died while {' '.join(self.args)} ran")
        return self.returncode

    def communicate(self, timeout: float | None = None) -> tuple[str, str]:
        self.wait(timeout)
        return self.out.read_text(errors="replace"), self.err.read_text(errors="replace")

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, sig)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class Zygote:
    """The test side: `run(args, cwd, env)` -> CompletedProcess; `start(...)` -> WarmProcess."""

    def __init__(self, env: dict[str, str], scratch: Path) -> None:
        self.scratch = scratch
        scratch.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen([sys.executable, __file__], env=env, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        self.exits: dict[int, int] = {}
        self.gone = False  # the zygote itself ended
        self.ended = threading.Condition()
        self.started: queue.Queue[int] = queue.Queue()
        self.count = 0
        threading.Thread(target=self._listen, daemon=True).start()

    def _listen(self) -> None:
        for line in self.proc.stdout:
            message = json.loads(line)
            if "started" in message:
                self.started.put(message["started"])
            else:
                with self.ended:
                    self.exits[message["exited"]] = message["returncode"]
                    self.ended.notify_all()
        with self.ended:
            self.gone = True
            self.ended.notify_all()
        self.started.put(-1)

    def start(self, args: list[str], cwd: Path, env: dict[str, str], session: bool = False) -> WarmProcess:
        self.count += 1
        out, err = self.scratch / f"{self.count}.stdout", self.scratch / f"{self.count}.stderr"
        request = {"args": args, "cwd": str(cwd), "env": env, "stdout": str(out), "stderr": str(err),
                   "session": session}
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        pid = self.started.get(timeout=60)
        if pid < 0:
            raise RuntimeError(f"the zygote died starting seqlab {' '.join(args)}")
        return WarmProcess(self, pid, ["seqlab", *args], out, err)

    def run(self, args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
        child = self.start(args, cwd, env)
        out, err = child.communicate()
        return subprocess.CompletedProcess(child.args, child.returncode, out, err)

    def close(self) -> None:
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


if __name__ == "__main__":
    serve()
