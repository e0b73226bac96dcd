"""`seqlab reproduce`: every experiment of conf/experiment/, its runs side by side.

Each experiment's sweep (hydra.sweeper.params) is expanded into single runs that go to
outputs/reproduce/<experiment>/<override>/. Runs are scheduled longest first (by
analytic training FLOPs) on `jobs` worker processes with one thread each, because two
torch processes with two threads each fight over two cores. A finished run is kept, a
stopped one is resumed: running the command again only does what is missing.
"""

from __future__ import annotations

import itertools
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from seqlab import warm_start
from seqlab.config.paths import config_dir
from seqlab.errors import SeqlabError
from seqlab.runs import CHECKPOINTS, LAST, SUMMARY

console = Console(stderr=True)
INVOCATION_FILE = "last_invocation.json"


@dataclass
class PlannedRun:
    """One run of one experiment."""

    experiment: str
    overrides: list[str]
    folder: Path
    cost: float
    """Analytic training FLOPs of the whole run: the scheduling key."""
    init_from: str | None = None
    """The run folder it starts from (trainer.init_from): it waits until every other run has
    finished, and is not started while that folder does not exist."""

    @property
    def label(self) -> str:
        return f"{self.experiment}/{self.folder.name}"

    def status(self) -> str | None:
        try:
            return json.loads((self.folder / SUMMARY).read_text()).get("status")
        except (OSError, ValueError):
            return "partial" if (self.folder / CHECKPOINTS / LAST).exists() else None


def experiment_names() -> list[str]:
    """conf/experiment/*.yaml, plus those of the user's config dirs (SEQLAB_CONFIG_DIR)."""
    from seqlab.config.paths import user_config_dirs

    dirs = [config_dir(), *user_config_dirs()]
    return sorted({p.stem for d in dirs for p in (d / "experiment").glob("*.yaml")})


def plan(names: list[str], out: Path) -> list[PlannedRun]:
    """Expand each experiment's sweep into single runs, most expensive first."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from seqlab.config.compose import compose
    from seqlab.config.shape import config_flop_lengths, config_vocab_size
    from seqlab.flops import flops_report

    known = experiment_names()
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SeqlabError(f"unknown experiment(s) {', '.join(unknown)}; known: {', '.join(known)}")
    parser = OverridesParser.create()
    runs = []
    for name in names:
        base = [f"+experiment={name}"]
        params = compose(base, with_hydra=True).hydra.sweeper.params or {}
        axes = [[f"{o.key_or_group}={v}" for v in
                 (o.sweep_string_iterator() if o.is_sweep_override() else [o.get_value_element_as_str()])]
                for o in parser.parse_overrides([f"{k}={v}" for k, v in params.items()])]
        for combo in itertools.product(*axes):
            cfg = compose(base + list(combo))
            (seq_len, target), batch = config_flop_lengths(cfg.model, cfg.task) or (1, None), cfg.trainer.batch_size
            try:
                per_step = flops_report(cfg.model, config_vocab_size(cfg.task), seq_len, batch,
                                        target_len=target).total.training
            except SeqlabError:  # a family without a FLOP model: schedule it as a small one
                per_step = 1e6 * batch * seq_len
            cost = cfg.trainer.flops_budget or per_step * cfg.trainer.max_steps  # a FLOP budget is the run's cost
            folder = out / name / ",".join(combo).replace("/", "_") if combo else out / name  # one level: a path value
            runs.append(PlannedRun(name, base + list(combo), folder, cost, cfg.trainer.init_from))
    return sorted(runs, key=lambda r: (r.init_from is not None, -r.cost))  # those that start from another last


def command_for(run: PlannedRun, threads: int) -> list[str]:
    """The `seqlab` arguments of one run: a train, or a resume of one that stopped."""
    from seqlab.config.compose import quote

    if run.status() in ("partial", "interrupted", "failed"):  # failed: a write failed (disk full); resumable
        return ["resume", str(run.folder), f"threads={threads}"]
    return ["train", *run.overrides, f"threads={threads}", f"hydra.run.dir={quote(str(run.folder))}"]


def split_exclusive(runs: list[PlannedRun], jobs: int) -> tuple[list[PlannedRun], list[PlannedRun]]:
    """The biggest run, if it is the critical path anyway (cost >= the rest's per worker), runs
    alone with `jobs` threads after the others: a big transformer uses two threads well, small
    recurrent models do not."""
    if jobs < 2 or len(runs) <= jobs:
        return runs, []
    biggest = max(runs, key=lambda r: r.cost)
    if biggest.cost < (sum(r.cost for r in runs) - biggest.cost) / jobs:
        return runs, []
    return [r for r in runs if r is not biggest], [biggest]


def reproduce(names: list[str], out: Path, jobs: int) -> float | None:
    """Run what is missing of `names` on `jobs` workers; returns the wall time in seconds
    (None when every run had already finished)."""
    todo = [r for r in plan(names, out) if r.status() != "completed"]
    shared, exclusive = split_exclusive([r for r in todo if r.init_from is None], jobs)
    waiting = [r for r in todo if r.init_from is not None]  # start from another run: after all the rest
    if not todo:
        console.print("0 run(s) to do: every run has finished")
        return None
    console.print(f"{len(shared)} run(s) on {jobs} worker(s) with one thread each, then "
                  f"{len(exclusive)} alone with {jobs} threads"
                  + (f", then {len(waiting)} that start from another run's weights" if waiting else ""))
    queue = [(r, 1) for r in shared] + [(r, jobs) for r in exclusive] + [(r, 1) for r in waiting]
    start, running, failed, blocked = time.perf_counter(), {}, [], []
    while queue or running:
        _start_next(queue, running, jobs, blocked)
        time.sleep(0.5)
        for label, (run, proc, began) in list(running.items()):
            if proc.exitcode is not None:
                del running[label]
                _report(label, run, proc.exitcode, time.perf_counter() - began, failed)
    wall = time.perf_counter() - start
    if failed or blocked:
        raise SeqlabError("; ".join(
            ([f"{len(failed)} run(s) did not finish: {', '.join(failed)}; running the same command again "
              "resumes them"] if failed else [])
            + ([f"{len(blocked)} run(s) not started, their starting weights missing: {', '.join(blocked)}"]
               if blocked else [])))
    record_invocation(out, [r.label for r in shared + exclusive + waiting], wall, jobs)
    return wall


def _start_next(queue: list[tuple[PlannedRun, int]], running: dict, jobs: int, blocked: list[str]) -> None:
    """Start queued runs while a worker is free: an exclusive one alone, one whose starting
    weights are missing not at all (it goes into `blocked`)."""
    while queue and len(running) < jobs and _may_start(*queue[0], [r for r, *_ in running.values()]):
        run, threads = queue.pop(0)
        if run.init_from is not None and not Path(run.init_from).exists():
            blocked.append(f"{run.label} (trainer.init_from={run.init_from})")
            console.print(f"[yellow]not started[/] {run.label}: it starts from {run.init_from}, which does "
                          "not exist (its experiment file says which run writes it)")
            continue
        running[run.label] = _start(run, threads)
        if threads > 1:
            return


def _may_start(run: PlannedRun, threads: int, running: list[PlannedRun]) -> bool:
    """An exclusive run starts on an idle machine; one that starts from another run's weights once
    only such runs are left (its trainer.init_from may name the folder of one of this invocation's runs)."""
    if threads > 1:
        return not running
    return run.init_from is None or all(r.init_from is not None for r in running)


def _start(run: PlannedRun, threads: int) -> tuple[PlannedRun, Any, float]:
    """Start one run as its own process (forked warm), its output appended to the folder's
    console.log. It stays in this command's process group, as a subprocess would: a terminal's
    Ctrl-C reaches it directly, and it finishes stopping at its checkpoint even if this command
    has already gone."""
    run.folder.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "COLUMNS": "120"}
    proc = warm_start.seqlab_command(command_for(run, threads), run.folder / "console.log", name=run.label,
                                     env=env, own_group=False)
    proc.start()
    console.print(f"[cyan]start[/] {run.label} ({threads} thread{'s' if threads > 1 else ''})")
    return run, proc, time.perf_counter()


def _report(label: str, run: PlannedRun, returncode: int, took: float, failed: list[str]) -> None:
    if returncode == 0:
        console.print(f"[green]done[/]  {label} ({took:.0f} s)")
        return
    failed.append(label)
    if returncode in (130, 143):  # stopped cleanly by a signal: resumable
        console.print(f"[yellow]stopped[/] {label} after {took:.0f} s (run again to resume it)")
    else:
        console.print(f"[red]failed[/] {label} (exit {returncode}; see {run.folder / 'console.log'})")


def record_invocation(out: Path, labels: list[str], wall_s: float, jobs: int) -> None:
    """Remember how long the last invocation that trained runs took, and which runs: a table
    regenerated later from the same folders still says what produced them, and in what time."""
    from datetime import datetime, timezone

    from seqlab.runs.atomic import atomic_write_json

    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / INVOCATION_FILE, {
        "wall_s": wall_s, "jobs": jobs, "runs": labels,
        "finished_utc": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    })


def last_invocation(out: Path) -> dict | None:
    """What record_invocation wrote under `out`, if anything readable."""
    try:
        return json.loads((out / INVOCATION_FILE).read_text())
    except (OSError, ValueError):
        return None
