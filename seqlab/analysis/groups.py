"""`seqlab compare`'s --best-over, --group, --baseline and a config key on --x.

- `--best-over trainer.lr`: of the runs that agree on every other key that changes what they
  learn, only the one with the best final metric stays ("the best of 4 learning rates").
- `--x model.n_embd`: each run's final metric against a config key, one line per `--group`.
- `--group model`: one row per group value, the runs of that value that differ only by seed
  pooled: n, mean, sample std and a Student t 95% interval; `--baseline gru` adds Welch's
  two-sided p-value against the baseline group's runs.

A key is a dotted config key (trainer.lr), its last part when only one key ends so (lr), or
`model` / `task`: the preset a run was composed from (gru_small, tinystories).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from seqlab.analysis.stats import CONFIDENCE, Summary, summarize, welch_p
from seqlab.errors import SeqlabError
from seqlab.runs.reader import BOOKKEEPING_KEYS, Run, differing_keys, format_value

if TYPE_CHECKING:
    from collections.abc import Callable

    from seqlab.analysis.compare import Metric

ATTRIBUTES = ("model", "task")
"""Keys that name the preset a run was composed from rather than a config value."""
SEED = "seed"
SMALL_N = "n < 3: interval not meaningful"


def value_of(run: Run, key: str) -> Any:
    if key in ATTRIBUTES:
        return {"model": run.model, "task": run.task}[key]
    return run.config.get(key)


def _same(value: Any) -> str:
    """A hashable stand-in for a config value (lists and dicts included)."""
    return json.dumps(value, sort_keys=True, default=str)


def resolve_key(runs: list[Run], key: str, option: str, also: str = "") -> str:
    """The config key `key` names: itself, model/task, or the one key whose last part it is."""
    if key in ATTRIBUTES or any(key in r.config for r in runs):
        return key
    ends = sorted({k for r in runs for k in r.config if k.rsplit(".", 1)[-1] == key})
    if len(ends) == 1:
        return ends[0]
    if ends:
        hint = f"it ends {len(ends)} keys, name one: {', '.join(ends)}"
    else:
        differ = [a for a in ATTRIBUTES if len({value_of(r, a) for r in runs}) > 1] + [
            k for k in differing_keys([r.config for r in runs]) if k not in BOOKKEEPING_KEYS]
        hint = f"keys that differ between these runs: {', '.join(differ)}" if differ else "no config key differs"
    raise SeqlabError(f"{option} must be {also}a config key of the runs (model, task or a dotted key like "
                      f"trainer.lr), got '{key}'; {hint}")


@dataclass(frozen=True)
class Choices:
    """The keys of --x (None: a curve axis), --best-over and --group, resolved against the runs."""

    x: str | None
    best_over: tuple[str, ...]
    group: str | None
    baseline: str | None


def resolve_options(runs: list[Run], x: str, curve_axes: list[str], best_over: list[str], group: str | None,
                    baseline: str | None) -> Choices:
    """Check every key and the baseline against the runs: a mistake is one SeqlabError."""
    axes = ", ".join(curve_axes)
    x_key = None if x in curve_axes else resolve_key(runs, x, "--x", f"one of {axes} or ")
    over = tuple(resolve_key(runs, k, "--best-over") for k in best_over)
    group_key = resolve_key(runs, group, "--group") if group else None
    if group_key and group_key in over:
        raise SeqlabError(f"--best-over {group} keeps one {group} per combination of the other keys: "
                          f"--group {group} would have nothing to compare; group by another key")
    if baseline is not None:
        if x_key:
            raise SeqlabError(f"--baseline tests the grouped table, which --x {x} replaces with a plot; "
                              "leave out one of them")
        known = sorted({format_value(value_of(r, group_key)) for r in runs})
        if baseline not in known:
            raise SeqlabError(f"--baseline {baseline} is no value of --group {group}; its values: {', '.join(known)}")
    return Choices(x_key, over, group_key, baseline)


def final_value(run: Run, spec: Metric) -> float | None:
    """The run's final value of the metric: summary.json's final_<key>, else its last record."""
    value = run.summary.get(f"final_{spec.key}")
    if not isinstance(value, int | float) or isinstance(value, bool):
        found = [r[spec.key] for r in run.records if isinstance(r.get(spec.key), int | float)]
        value = found[-1] if found else None
    return None if value is None or math.isnan(value) else float(value)


def _rank(run: Run, spec: Metric) -> tuple[int, float]:
    value = final_value(run, spec)
    return (1, 0.0) if value is None else (0, -value if spec.higher_is_better else value)


def keep_best(runs: list[Run], over: tuple[str, ...], spec: Metric) -> tuple[list[Run], str]:
    """Per combination of the other keys that change what a run learns, the run with the best
    final metric (runs without one only where no run of theirs has one); and the line to print."""
    others = [k for k in (*ATTRIBUTES, *differing_keys([r.config for r in runs]))
              if k not in over and k not in BOOKKEEPING_KEYS]
    best: dict[tuple[str, ...], Run] = {}
    for run in runs:
        combo = tuple(_same(value_of(run, k)) for k in others)
        if combo not in best or _rank(run, spec) < _rank(best[combo], spec):
            best[combo] = run
    chosen = {id(r) for r in best.values()}
    kept = [r for r in runs if id(r) in chosen]
    return kept, (f"--best-over {', '.join(over)}: kept {len(kept)} of {len(runs)} run(s), the best final "
                  f"{spec.key} ({'highest' if spec.higher_is_better else 'lowest'}) of each combination of the "
                  "other keys")


def final_points(runs: list[Run], x_key: str, group_key: str | None, spec: Metric,
                 warn: Callable[[str], None]) -> dict[str, list[tuple[Any, float]]]:
    """(x, final metric) of each run, one list per group value (one list, named by the metric,
    without --group), sorted by x; runs without the key or a final value are left out, warned."""
    lines: dict[str, list[tuple[Any, float]]] = {}
    left_out = []
    for run in runs:
        x, y = value_of(run, x_key), final_value(run, spec)
        if x is None or y is None:
            left_out.append(run.path.name)
            continue
        lines.setdefault(format_value(value_of(run, group_key)) if group_key else spec.key, []).append((x, y))
    if left_out:
        warn(f"--x {x_key}: {len(left_out)} run(s) without {x_key} or a final {spec.key} are not drawn: "
             f"{', '.join(left_out[:5])}{' ...' if len(left_out) > 5 else ''}")
    if not lines:
        raise SeqlabError(f"--x {x_key}: no run has both a value of it and a final {spec.key} to draw")
    numeric = is_numeric([x for points in lines.values() for x, _ in points])
    return {label: sorted(points, key=lambda p: (p[0] if numeric else str(p[0]), p[1]))
            for label, points in sorted(lines.items())}


def is_numeric(xs: list[Any]) -> bool:
    return all(isinstance(x, int | float) and not isinstance(x, bool) for x in xs)


# --- the grouped table: runs that differ only by seed, pooled -----------------------------------

@dataclass
class GroupRow:
    label: str
    """The group's value of the --group key."""
    rest: tuple[str, ...]
    """Its values of the keys that vary inside a group (other than seed and --best-over's)."""
    runs: list[Run]
    values: list[float]
    summary: Summary | None
    p: float | None = None


def group_rows(runs: list[Run], group_key: str, spec: Metric, baseline: str | None,
               skip: tuple[str, ...] = ()) -> tuple[list[str], list[GroupRow]]:
    """The keys that vary inside a group value, and one row per group value and values of those
    keys, best mean first within each; with `baseline`, each row's Welch p-value against the
    baseline group's row of the same other keys."""
    labels = [format_value(value_of(r, group_key)) for r in runs]
    candidates = [k for k in (*ATTRIBUTES, *differing_keys([r.config for r in runs]))
                  if k not in (group_key, SEED, *skip) and k not in BOOKKEEPING_KEYS]
    rest = [k for k in candidates if any(len({_same(value_of(r, k)) for r, lb in zip(runs, labels) if lb == label}) > 1
                                         for label in set(labels))]
    buckets: dict[tuple[str, tuple[str, ...]], list[Run]] = {}
    for run, label in zip(runs, labels):
        buckets.setdefault((label, tuple(format_value(value_of(run, k)) for k in rest)), []).append(run)
    rows = []
    for (label, values), members in buckets.items():
        finals = [v for v in (final_value(r, spec) for r in members) if v is not None]
        rows.append(GroupRow(label, values, members, finals, summarize(finals) if finals else None))
    if baseline is not None:
        base = {row.rest: row for row in rows if row.label == baseline}
        for row in rows:
            if row.rest in base and row is not base[row.rest]:
                row.p = welch_p(row.values, base[row.rest].values)
    sign = -1.0 if spec.higher_is_better else 1.0
    rows.sort(key=lambda r: (_in_order(r.rest), r.summary is None, sign * r.summary.mean if r.summary else 0.0))
    return rest, rows


def _in_order(values: tuple[str, ...]) -> tuple[tuple[int, float, str], ...]:
    """Numbers by value (64 before 128), other values after them by name."""
    def one(v: str) -> tuple[int, float, str]:
        try:
            return (0, float(v), v)
        except ValueError:
            return (1, 0.0, v)
    return tuple(map(one, values))


def _fmt(value: float | None, fmt: str = ".4f") -> str:
    return "-" if value is None else format(value, fmt)


def group_table(runs: list[Run], choices: Choices, spec: Metric, rest_label: Callable[[str], str]
                ) -> tuple[str, list[str], list[list[str]], dict[int, list[Any]], list[str]]:
    """Title, header and formatted rows of the grouped table; for compare.csv, the columns each
    run gains (by id of the run) and their names."""
    rest, rows = group_rows(runs, choices.group, spec, choices.baseline, choices.best_over)
    percent = f"{CONFIDENCE:.0%}"
    header = [choices.group, *map(rest_label, rest), "n", "mean", "std", f"± {percent}",
              f"{percent} interval"]
    if choices.baseline is not None:
        header.append(f"p vs {choices.baseline}")
    header.append("note")  # left out below when no row has one
    cells, per_run = [], {}
    for row in rows:
        s = row.summary
        low, high = (s.mean - s.half_width, s.mean + s.half_width) if s and s.half_width is not None else (None, None)
        line = [row.label, *row.rest, str(len(row.values)), _fmt(s and s.mean), _fmt(s and s.std),
                _fmt(s and s.half_width), "-" if low is None else f"[{low:.4f}, {high:.4f}]"]
        if choices.baseline is not None:
            line.append("baseline" if row.label == choices.baseline else _fmt(row.p, ".3g"))
        line.append(_note(row, spec))
        cells.append(line)
        for run in row.runs:
            per_run[id(run)] = [row.label, len(row.values), s and s.mean, s and s.std, low, high, row.p]
    title = (f"final {spec.key} by {choices.group}, runs that differ only by {SEED} pooled: mean, sample std, "
             f"Student t {percent} interval")
    if choices.baseline is not None:
        title += f"; p: Welch's t-test (two-sided) against {choices.group}={choices.baseline}"
    if not any(line[-1] for line in cells):
        header, cells = header[:-1], [line[:-1] for line in cells]
    csv_columns = ["group", "group n", "group mean", "group std", "group ci low", "group ci high", "group p"]
    return title, header, cells, per_run, csv_columns


def _note(row: GroupRow, spec: Metric) -> str:
    notes = []
    if not row.values:
        notes.append(f"no final {spec.key}")
    elif len(row.values) < 3:
        notes.append(SMALL_N)
    if len(row.values) < len(row.runs) and row.values:
        notes.append(f"{len(row.runs) - len(row.values)} run(s) without a final {spec.key} left out")
    return "; ".join(notes)


def print_group_table(title: str, header: list[str], rows: list[list[str]]) -> None:
    """The grouped table on stdout, below the runs' table."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for h in header:
        table.add_column(h, justify="left" if h in (header[0], "note") else "right", overflow="fold",
                         no_wrap=h.endswith("interval"))
    for row in rows:
        table.add_row(*row)
    Console().print(table)
