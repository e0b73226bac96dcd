"""The commands of the README and of every docs/*.md page, run as written, so the docs cannot
drift from the tool; and the README kept a short front door whose links resolve.

Every `seqlab ...` in the README's Commands table and every `seqlab ...` / `make ...` line of a
code block (fenced or indented by four spaces), in README.md and in each page of docs/, runs in
one fresh working directory whose environment is only what the README says to set up: `make`
records the data folder in the venv's activate script and the README says to
`source .venv/bin/activate`, so the environment here is that script's (applied to a copy of it)
over a bare PATH and HOME. The fresh folder sits beside a `shared/` that links to the course
data, as a checkout sits beside `../shared`, so `../shared/data/tinystories` in a command means
what it means in the docs. The README's commands run first, then each page's (docs/ in name
order); within a document its train commands run before the rest, which read their runs.

What the test adds, and only this:
- every `seqlab train`, `seqlab resume`, `seqlab search` (its trials) and `make train` gets TINY
  appended (for make, as `ARGS=`): later overrides win in Hydra, so a run takes seconds;
- a run folder named in a document (`outputs/2026-11-26/13-00-13_gru_tinystories`,
  `outputs/multirun/<date>/<time>`, RNN_RUN/GRU_RUN/LSTM_RUN) becomes a run of that model and
  task which a train command of the README or of that same page made, in the same folder: a
  page that needs a run the README does not train shows the command that trains it;
- make runs in the checkout (that is where the README runs it), writing outputs into the
  fresh folder (SEQLAB_OUTPUTS), with the installed venv, without re-installing it;
- a command with the same words as one that already ran runs once (a train command again in a
  page, unless the README ran it, since the page's runs are its own);
- `seqlab scaling outputs/reproduce/<experiment>` reads, instead of a reproduction's runs
  (minutes of training), run folders whose losses follow a known law, written as
  tests/test_scaling.py writes them (the docs quote no output of such a command).
Skipped, each with its reason (SKIPPED, printed by the test): the reproduction and the
benchmarks (tens of minutes), `make test`/`test-fast`/`lint` (this suite itself) and commands
for a Slurm cluster (none here). A line ending in a backslash continues on the next, as in a
shell.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest
from zygote import Zygote

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
DOCS = REPO / "docs"
README_MAX_LINES = 250
TINY = ["trainer.max_steps=4", "trainer.flops_budget=null", "trainer.eval_every=2", "trainer.eval_batches=2", "trainer.log_every=1",
        "trainer.sample_tokens=10", "trainer.num_samples=1", "threads=1"]
SLOW_EXPERIMENTS = "the seed's experiments: tens of minutes of training"
THIS_SUITE = "the test suite's own targets: this suite runs inside them"
SKIPPED = {("make", "reproduce"): SLOW_EXPERIMENTS,
           ("seqlab", "reproduce"): SLOW_EXPERIMENTS,
           ("make", "bench"): "the benchmarks: minutes of timing, they only print numbers",
           ("make", "test"): THIS_SUITE,
           ("make", "test-fast"): THIS_SUITE,
           ("make", "lint"): THIS_SUITE}
NEEDS_A_CLUSTER = "hydra/launcher=submitit_slurm"
NO_CLUSTER = "a Slurm cluster's launcher: there is no cluster here"
RUN_PATH = re.compile(r"^outputs/\d{4}-\d\d-\d\d/\d\d-\d\d-\d\d_([a-z0-9]+(?:_[a-z0-9]+)*?)_([a-z_]+)$")
SWEEP_PATH = re.compile(r"^outputs/multirun/\d{4}-\d\d-\d\d/\d\d-\d\d-\d\d$")
NAMED_RUN = re.compile(r"^(RNN|GRU|LSTM)_RUN$")
DATED = re.compile(r"\d{4}-\d\d-\d\d")
REPRODUCED = re.compile(r"^outputs/reproduce/[a-z0-9_]+$")


def pages() -> list[Path]:
    """The README, then every page of docs/ in name order: the order their commands run in."""
    return [README, *sorted(DOCS.glob("*.md"))]


def name(page: Path) -> str:
    return page.relative_to(REPO).as_posix()


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


def page_commands(page: Path) -> list[list[str]]:
    return readme_commands(page.read_text())


def all_commands() -> list[list[str]]:
    return [command for page in pages() for command in page_commands(page)]


def skip_reason(command: list[str]) -> str | None:
    """Why the test does not run this command, or None when it runs it."""
    if NEEDS_A_CLUSTER in command:
        return NO_CLUSTER
    if any(arg.startswith("outputs/reproduce") for arg in command) and command[:2] != ["seqlab", "scaling"]:
        return "reads the runs of `seqlab reproduce` (tens of minutes), which the test does not run"
    return SKIPPED.get(tuple(command[:2]))


def trains(command: list[str]) -> bool:
    return command[:2] == ["make", "train"] or (command[:2] == ["seqlab", "train"] and "--cfg" not in command)


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
    """The fresh folder, the runs each document's commands made, and how a command becomes the
    command run: a document's run folders stand for runs of the README's or its own commands."""

    def __init__(self, cwd: Path, env: dict[str, str], zygote: Zygote | None = None) -> None:
        self.cwd, self.env, self.zygote = cwd, env, zygote
        self.seconds: list[tuple[float, str]] = []  # (wall seconds, command), shown with -s
        self.page = name(README)
        self.made: dict[str, list[Path]] = {}  # document -> run folders its commands made, in order
        self.line = 0  # the running command's place in its document
        self.sweep_lines: dict[str, list[tuple[int, Path]]] = {}  # document -> (place, sweep) made there
        self.ran: dict[tuple[str, ...], str] = {}  # command -> the document that ran it first

    def run_folders(self) -> set[Path]:
        outputs = self.cwd / "outputs"
        if not outputs.exists():
            return set()
        return {p.parent for p in outputs.rglob("config.yaml") if p.parent.name != ".hydra"}

    def visible(self) -> list[Path]:
        own = self.made.get(self.page, []) if self.page != name(README) else []
        return self.made.get(name(README), []) + own

    def runs(self, model: str, task: str = "tinystories") -> list[Path]:
        return [p for p in self.visible() if p.name.endswith(f"_{model}_{task}")]

    def sweep_of(self, run: Path) -> Path | None:
        """The sweep folder (outputs/multirun/DATE/TIME) a run belongs to, if any."""
        parts = run.relative_to(self.cwd / "outputs").parts
        return self.cwd / "outputs" / Path(*parts[:3]) if parts[0] == "multirun" else None

    def sweeps(self) -> list[Path]:
        """Sweeps a sweep path can stand for: the one the nearest train command above it in its
        page made, else the README's and the page's in the order they were made."""
        found = list(dict.fromkeys(s for s in map(self.sweep_of, self.visible()) if s is not None))
        above = [sweep for line, sweep in self.sweep_lines.get(self.page, []) if line < self.line]
        return ([above[-1]] if above else []) + [s for s in found if not above or s != above[-1]]

    def resolve(self, token: str) -> str:
        made_by = f"a train command of README.md or {self.page}" if self.page != name(README) else "a README train command"
        if m := RUN_PATH.match(token):
            runs = self.runs(m.group(1), m.group(2))
            assert runs, f"{self.page} names a {m.group(1)} {m.group(2)} run that no {made_by} makes"
            return str(runs[0])
        if SWEEP_PATH.match(token):
            sweeps = self.sweeps()
            assert sweeps, f"{self.page} names a sweep folder that no {made_by} makes"
            return str(sweeps[0])
        if m := NAMED_RUN.match(token):
            runs = self.runs(m.group(1).lower())
            assert runs, f"{self.page} names {token}, a run that no {made_by} makes"
            return str(runs[0])
        if REPRODUCED.match(token):
            return str(self.known_law_runs())
        return token

    def known_law_runs(self) -> Path:
        """IsoFLOP run folders of a known loss law (tests/test_scaling.py's), written once."""
        from test_scaling import known_law_sweep

        folder = self.cwd.parent / "known_law"
        return folder / "sweep" if folder.exists() else known_law_sweep(folder)

    def already_ran(self, command: list[str]) -> bool:
        """Ran before with the same words (a train only counts when the README ran it)."""
        first = self.ran.get(tuple(command))
        return first is not None and (not trains(command) or first == name(README))

    def run(self, command: list[str]) -> subprocess.CompletedProcess:
        args = [self.resolve(t) for t in command]
        env, cwd = dict(self.env), self.cwd
        if args[0] == "make":
            args = ["make", "-s", f"VENV={sys.prefix}", "-o", f"{sys.prefix}/.installed", "-o", "data-env",
                    *args[1:], "ARGS=" + " ".join(TINY)]
            env["SEQLAB_OUTPUTS"], cwd = str(self.cwd / "outputs"), REPO
        elif args[1] in ("train", "resume", "search") and "--cfg" not in args:
            args += TINY
        before, started = self.run_folders(), time.perf_counter()
        self.ran.setdefault(tuple(command), self.page)
        if args[0] == "seqlab" and self.zygote is not None:  # a process of its own, forked warm
            result = self.zygote.run(args[1:], cwd, env)
        else:
            result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
        made = sorted(self.run_folders() - before, key=str)
        self.made.setdefault(self.page, []).extend(made)
        self.sweep_lines.setdefault(self.page, []).extend(
            (self.line, sweep) for sweep in map(self.sweep_of, made) if sweep is not None)
        self.seconds.append((time.perf_counter() - started, f"{self.page}: {shlex.join(command)}"))
        return result


def order(commands: list[list[str]]) -> list[list[str]]:
    """Commands that train first (in document order), then the rest (which read their runs)."""
    unique = [c for i, c in enumerate(commands) if c not in commands[:i]]  # the same line twice runs once
    trained = [c for c in unique if trains(c)]
    return trained + [c for c in unique if c not in trained]


def dated_literals(commands: list[list[str]]) -> list[str]:
    """Arguments that name a dated folder the test does not map to a run an earlier command made.

    Run folders carry the day they were made, so such an argument works only on the day its
    example was written: the suite would pass that day and fail on every other."""
    return [token for command in commands for token in command
            if DATED.search(token) and not (RUN_PATH.match(token) or SWEEP_PATH.match(token))]


def trained_runs(commands: list[list[str]]) -> tuple[set[tuple[str, str]], bool]:
    """(model, task) pairs the train commands make, read from their overrides, and whether one
    is a sweep. Experiments (`+experiment=...`) choose their own models and are not counted."""
    pairs, sweep = set(), False
    for command in filter(trains, commands):
        if any(a.startswith("+experiment=") for a in command):
            continue
        overrides = dict(a.split("=", 1) for a in command[2:] if "=" in a and not a.startswith("-"))
        pairs |= {(model, task) for model in overrides.get("model", "gru").split(",")
                  for task in overrides.get("task", "tinystories").split(",")}
        sweep = sweep or "-m" in command
    return pairs, sweep


def needed_runs(commands: list[list[str]]) -> tuple[set[tuple[str, str]], bool]:
    """(model, task) pairs of the run folders the commands name, and whether one names a sweep."""
    pairs, sweep = set(), False
    for token in (t for command in commands if not skip_reason(command) for t in command):
        if m := RUN_PATH.match(token):
            pairs.add((m.group(1), m.group(2)))
        elif m := NAMED_RUN.match(token):
            pairs.add((m.group(1).lower(), "tinystories"))
        sweep = sweep or bool(SWEEP_PATH.match(token))
    return pairs, sweep


@pytest.mark.parametrize("page", pages(), ids=name)
def test_no_command_depends_on_the_day_it_runs(page):
    assert not dated_literals(page_commands(page)), \
        f"{name(page)}: commands that name a dated folder (write a pattern that holds on any day, or name the run)"


def test_a_dated_folder_is_caught():
    commands = [["seqlab", "compare", "outputs/2026-11-27/*"],
                ["seqlab", "sample", "outputs/2026-11-26/13-00-13_gru_tinystories"],
                ["seqlab", "compare", "outputs/multirun/2026-11-27/00-08-50"]]
    assert dated_literals(commands) == ["outputs/2026-11-27/*"]


def test_the_readme_lists_the_commands_it_should():
    commands = all_commands()
    names = {c[1] for c in commands if c[0] == "seqlab"}
    assert {"train", "resume", "sample", "attention", "models", "tasks", "experiments", "flops", "gates",
            "gradients", "compare", "eval", "prepare"} <= names
    assert ["make", "train"] in page_commands(README)


@pytest.mark.parametrize("page", pages()[1:], ids=name)
def test_each_page_trains_the_runs_it_names(page):
    """A page's run folders are runs that the README's or the page's own train commands make."""
    readme_pairs, readme_sweep = trained_runs(page_commands(README))
    own_pairs, own_sweep = trained_runs(page_commands(page))
    needed, needs_sweep = needed_runs(page_commands(page))
    assert needed <= readme_pairs | own_pairs, \
        f"{name(page)} names runs no train command of it or of the README makes: {needed - readme_pairs - own_pairs}"
    assert readme_sweep or own_sweep or not needs_sweep, f"{name(page)} names a sweep folder no command makes"


def test_the_readme_trains_the_runs_it_names():
    pairs, sweep = trained_runs(page_commands(README))
    needed, needs_sweep = needed_runs(page_commands(README))
    assert needed <= pairs, f"README runs no README train command makes: {needed - pairs}"
    assert sweep or not needs_sweep


def test_skipped_commands_say_why():
    """The commands the slow test does not run, each with its reason (pytest -rP or -s shows them)."""
    skipped = [(name(page), shlex.join(c), skip_reason(c)) for page in pages() for c in page_commands(page)
               if skip_reason(c)]
    print("commands of the README and docs that the slow test does not run:")
    for page, command, why in skipped:
        print(f"  {page}: {command}\n      skipped: {why}")
    assert {"make test", "make reproduce", "make bench"} <= {c for _, c, _ in skipped}
    assert any(NEEDS_A_CLUSTER in c for _, c, _ in skipped)


def test_the_readme_is_a_short_front_door():
    text = README.read_text()
    assert len(text.splitlines()) <= README_MAX_LINES, \
        f"README.md has {len(text.splitlines())} lines; at most {README_MAX_LINES}: move detail into a docs/ page"
    linked = set(re.findall(r"\]\((docs/[^)#\s]+\.md)(?:#[^)\s]*)?\)", text))
    missing = sorted(link for link in linked if not (REPO / link).is_file())
    assert not missing, f"README.md links docs pages that do not exist: {missing}"
    unlinked = sorted(name(p) for p in DOCS.glob("*.md") if name(p) not in linked)
    assert not unlinked, f"docs pages the README's list does not link: {unlinked}"


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text, in_fence, found = page.read_text(), False, set()
    for line in text.splitlines():
        if line.startswith("```"):
            in_fence = not in_fence
        elif not in_fence and (m := re.match(r"^#{1,6} (.+)$", line)):
            found.add(slug(m.group(1)))
    return found


@pytest.mark.parametrize("page", pages(), ids=name)
def test_every_link_resolves(page):
    """Links and figures of README.md and docs/*.md: the file exists, and so does a #heading."""
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
        if re.match(r"^[a-z]+:", target):  # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            broken.append(f"{target} (no such heading)")
    assert not broken, f"{name(page)}: broken links: {broken}"


BANNED = [re.compile(r"\bsessions?\b", re.IGNORECASE), re.compile(r"\bissue\s*#?\d+", re.IGNORECASE)]


def test_the_docs_say_nothing_of_how_they_were_written():
    found = [f"{name(page)}:{i}: {line.strip()}" for page in pages()
             for i, line in enumerate(page.read_text().splitlines(), 1) if any(p.search(line) for p in BANNED)]
    assert not found, "words about the work, not the tool (state results as measurements):\n" + "\n".join(found)


RESULTS_PAGES = ("docs/results.md",)
STUDY_PAGES = ("docs/report.md", "docs/scaling.md", "docs/search.md")
ALONE = RESULTS_PAGES + STUDY_PAGES
"""Pages that name no run of the README: their commands run in tests/test_docs_results.py (each
group in a folder of its own), beside this file's (the suite's workers share the work)."""


def run_pages_in_a_fresh_folder(tmp_path: Path, chosen: list[Path]) -> tuple[list, list[str], list[str]]:
    """Every command of `chosen` (in order), in one fresh folder: (ran, failed, skipped)."""
    env = activated_env(tmp_path / "env")
    if "SEQLAB_TINYSTORIES" not in env:
        pytest.skip("no course data beside the checkout (../shared/data/tinystories)")
    data = Path(env["SEQLAB_TINYSTORIES"])
    (tmp_path / "shared").symlink_to(data.parents[1])  # data lives at shared/data/tinystories
    cwd = tmp_path / "fresh"
    cwd.mkdir()
    zygote = Zygote(env, tmp_path / "zygote")
    space = Workspace(cwd, env, zygote)
    try:
        ran, failed, skipped = run_every_page(space, chosen)
    finally:
        zygote.close()
    print("skipped:\n  " + "\n  ".join(skipped))
    print("slowest:\n  " + "\n  ".join(f"{t:5.1f} s  {c[:110]}" for t, c in sorted(space.seconds)[::-1][:12]))
    assert not failed, "commands of the README and docs that fail:\n" + "\n".join(failed)
    return ran, failed, skipped


@pytest.mark.slow
def test_every_readme_command_runs_as_written(tmp_path):
    """Every command of README.md and docs/*.md (the README's first), in one fresh folder; the
    pages of ALONE in tests/test_docs_results.py."""
    ran, _, _ = run_pages_in_a_fresh_folder(tmp_path, [p for p in pages() if name(p) not in ALONE])
    assert len(ran) >= 25


def run_every_page(space: Workspace, chosen: list[Path]) -> tuple[list, list[str], list[str]]:
    """Each chosen page's commands in order (the README's first): (ran, failed, skipped)."""
    ran, failed, skipped = [], [], []
    for page in chosen:
        space.page = name(page)
        commands = page_commands(page)
        for command in order(commands):
            space.line = commands.index(command)
            if why := skip_reason(command):
                skipped.append(f"{space.page}: {shlex.join(command)}  ({why})")
                continue
            if space.already_ran(command):
                continue
            try:
                result = space.run(command)
            except AssertionError as err:  # it names a run no train command of its page or the README made
                failed.append(f"{space.page}: {shlex.join(command)}\n  -> {err}")
                continue
            ran.append(command)
            if result.returncode != 0:
                failed.append(f"{space.page}: {shlex.join(command)}\n  -> exit {result.returncode}: "
                              f"{result.stderr.strip()[-800:]}")
    return ran, failed, skipped
