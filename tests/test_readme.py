"""The README's commands, run as written, so the README cannot drift from the tool (issue 18).

Every `seqlab ...` in the Commands table and every `seqlab ...` / `make ...` line of a code
block runs in a fresh working directory whose environment is only what the README says to
set up: `make` records the data folder in the venv's activate script and the README says to
`source .venv/bin/activate`, so the environment here is that script's (applied to a copy of
it) over a bare PATH and HOME. The fresh folder sits beside a `shared/` that links to the
course data, as a checkout sits beside `../shared`, so `../shared/data/tinystories` in a
command means what it means in the README.

What the test adds, and only this:
- every `seqlab train`, `seqlab resume` and `make train` gets TINY appended (for make, as
  `ARGS=`): later overrides win in Hydra, so a run takes seconds;
- a run folder named in the README (`outputs/2026-11-26/13-00-13_gru_tinystories`,
  `outputs/multirun/<date>/<time>`, RNN_RUN/GRU_RUN/LSTM_RUN) becomes a run of that model and
  task which an earlier README command trained in the same folder;
- make runs in the checkout (that is where the README runs it), writing outputs into the
  fresh folder (SEQLAB_OUTPUTS), with the installed venv, without re-installing it.
Skipped, and said so: the reproduction and benchmarks (tens of minutes), `make
test`/`test-fast`/`lint` (this suite itself) and commands for a Slurm cluster (none here).
A line ending in a backslash continues on the next, as in a shell.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
TINY = ["trainer.max_steps=4", "trainer.flops_budget=null", "trainer.eval_every=2", "trainer.eval_batches=2", "trainer.log_every=1",
        "trainer.sample_tokens=10", "trainer.num_samples=1", "threads=1"]
SKIPPED = {("make", "reproduce"), ("make", "bench"), ("seqlab", "reproduce"), ("make", "test"),
           ("make", "test-fast"), ("make", "lint")}
RUN_PATH = re.compile(r"^outputs/\d{4}-\d\d-\d\d/\d\d-\d\d-\d\d_([a-z0-9]+(?:_[a-z0-9]+)*?)_([a-z_]+)$")
SWEEP_PATH = re.compile(r"^outputs/multirun/\d{4}-\d\d-\d\d/\d\d-\d\d-\d\d$")
NAMED_RUN = re.compile(r"^(RNN|GRU|LSTM)_RUN$")


NEEDS_A_CLUSTER = "hydra/launcher=submitit_slurm"


def joined_lines(text: str) -> list[str]:
    """The text's lines with shell continuations (a trailing backslash) joined."""
    lines: list[str] = []
    for line in text.splitlines():
        if lines and lines[-1].endswith("\\"):
            lines[-1] = lines[-1][:-1] + " " + line.strip()
        else:
            lines.append(line)
    return lines


def readme_commands(text: str) -> list[list[str]]:
    """The Commands table's `seqlab ...` code spans and the seqlab/make lines of code blocks."""
    commands, in_fence = [], False
    for line in joined_lines(text):
        if line.startswith("```"):
            in_fence = not in_fence
            continue
        if line.startswith("| `seqlab"):  # a row of the Commands table: its example column
            example = line.split("|")[2]
            commands += [shlex.split(c) for c in re.findall(r"`(seqlab [^`]+)`", example)]
        elif (in_fence or line.startswith("    ")) and line.strip().startswith(("seqlab ", "make ")):
            commands.append(shlex.split(line.strip(), comments=True))
    return commands


def activated_env(tmp: Path) -> dict[str, str]:
    """A bare environment plus what `make` records and `source .venv/bin/activate` sets."""
    venv = Path(sys.prefix)
    copy = tmp / "venv"
    (copy / "bin").mkdir(parents=True)
    (copy / "bin" / "activate").write_text((venv / "bin" / "activate").read_text())
    (copy / ".installed").touch()
    subprocess.run(["make", "-s", "-C", str(REPO), f"VENV={copy}", "-o", f"{copy}/.installed", "data-env"],
                   check=True, capture_output=True)
    bare = {"HOME": os.environ["HOME"], "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    out = subprocess.run(["bash", "-c", f"source {copy}/bin/activate && env -0"], env=bare, check=True,
                         capture_output=True, text=True).stdout
    env = dict(item.split("=", 1) for item in out.split("\0") if "=" in item)
    env["PATH"] = f"{venv / 'bin'}:{env['PATH']}"  # the venv the suite runs in (CI: .venv itself)
    env["OMP_NUM_THREADS"] = "1"  # the suite's rule: one thread per torch process
    if "PYTHONPATH" in os.environ:  # a development worktree runs its own sources
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return env


class Workspace:
    """The fresh folder, its runs, and how a README command becomes the command run."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.cwd, self.env = cwd, env

    def runs(self, model: str, task: str = "tinystories") -> list[Path]:
        found = [p for p in (self.cwd / "outputs").rglob(f"*_{model}_{task}") if (p / "config.yaml").exists()]
        return sorted(found, key=lambda p: p.stat().st_mtime)

    def resolve(self, token: str) -> str:
        if m := RUN_PATH.match(token):
            runs = self.runs(m.group(1), m.group(2))
            assert runs, f"the README names a {m.group(1)} {m.group(2)} run that no README command trains"
            return str(runs[0])
        if SWEEP_PATH.match(token):
            sweeps = sorted((self.cwd / "outputs" / "multirun").glob("*/*"))
            assert sweeps, "the README names a sweep folder that no README command makes"
            return str(sweeps[0])
        if m := NAMED_RUN.match(token):
            return str(self.runs(m.group(1).lower())[0])
        return token

    def run(self, command: list[str]) -> subprocess.CompletedProcess:
        args = [self.resolve(t) for t in command]
        env, cwd = dict(self.env), self.cwd
        if args[0] == "make":
            args = ["make", "-s", f"VENV={sys.prefix}", "-o", f"{sys.prefix}/.installed", "-o", "data-env",
                    *args[1:], "ARGS=" + " ".join(TINY)]
            env["SEQLAB_OUTPUTS"], cwd = str(self.cwd / "outputs"), REPO
        elif args[1] in ("train", "resume") and "--cfg" not in args:
            args += TINY
        return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def order(commands: list[list[str]]) -> list[list[str]]:
    """Commands that train first (in README order), then the rest (which read their runs)."""
    unique = [c for i, c in enumerate(commands) if c not in commands[:i]]  # the same line twice runs once
    trains = [c for c in unique if c[1] == "train" and "--cfg" not in c]
    return trains + [c for c in unique if c not in trains]


DATED = re.compile(r"\d{4}-\d\d-\d\d")


def dated_literals(commands: list[list[str]]) -> list[str]:
    """Arguments that name a dated folder the test does not map to a run an earlier command made.

    Run folders carry the day they were made, so such an argument works only on the day its
    example was written: the suite would pass that day and fail on every other."""
    return [token for command in commands for token in command
            if DATED.search(token) and not (RUN_PATH.match(token) or SWEEP_PATH.match(token))]


def test_no_command_depends_on_the_day_it_runs():
    assert not dated_literals(readme_commands(README.read_text())), \
        "README commands that name a dated folder (write a pattern that holds on any day, or name the run)"


def test_a_dated_folder_is_caught():
    commands = [["seqlab", "compare", "outputs/2026-11-27/*"],
                ["seqlab", "sample", "outputs/2026-11-26/13-00-13_gru_tinystories"],
                ["seqlab", "compare", "outputs/multirun/2026-11-27/00-08-50"]]
    assert dated_literals(commands) == ["outputs/2026-11-27/*"]


def test_the_readme_lists_the_commands_it_should():
    commands = readme_commands(README.read_text())
    names = {c[1] for c in commands if c[0] == "seqlab"}
    assert {"train", "resume", "sample", "attention", "models", "tasks", "experiments", "flops", "gates",
            "gradients", "compare", "eval"} <= names
    assert ["make", "train"] in commands


@pytest.mark.slow
def test_every_readme_command_runs_as_written(tmp_path):
    env = activated_env(tmp_path / "env")
    if "SEQLAB_TINYSTORIES" not in env:
        pytest.skip("no course data beside the checkout (../shared/data/tinystories)")
    data = Path(env["SEQLAB_TINYSTORIES"])
    (tmp_path / "shared").symlink_to(data.parents[1])  # data lives at shared/data/tinystories
    cwd = tmp_path / "fresh"
    cwd.mkdir()
    space = Workspace(cwd, env)
    ran, failed = [], []
    for command in order(readme_commands(README.read_text())):
        if tuple(command[:2]) in SKIPPED or NEEDS_A_CLUSTER in command:
            continue
        try:
            result = space.run(command)
        except AssertionError as err:  # it names a run no earlier command made
            failed.append(f"{shlex.join(command)}\n  -> {err}")
            continue
        ran.append(command)
        if result.returncode != 0:
            failed.append(f"{shlex.join(command)}\n  -> exit {result.returncode}: {result.stderr.strip()[-800:]}")
    assert not failed, "README commands that fail:\n" + "\n".join(failed)
    assert len(ran) >= 15
