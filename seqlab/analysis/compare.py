"""`seqlab compare`: a table, an overlay plot, compare.md and compare.csv for a set of runs.

Runs come from run folders, sweep folders or globs (see seqlab.runs.reader); runs of
different length, still running or with a broken file are used as far as they go.

The terminal table fits the terminal: runs are numbered by rank (the plot's legend uses the
same numbers and short labels: the keys that differ, abbreviated), and the columns that do not
fit are named under it (`--wide` prints them all; compare.csv and compare.md always have them).
Runs of different tokenizers are not ranked by a per-token loss: by bits per byte instead.
--best-over, --group, --baseline and a config key as --x live in seqlab/analysis/groups.py.
"""

from __future__ import annotations

import csv
import math
import os
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from seqlab.analysis import groups
from seqlab.analysis.compare_plot import plot_compare, plot_final
from seqlab.errors import SeqlabError, warn
from seqlab.runs.reader import (
    BOOKKEEPING_KEYS,
    Run,
    differing_keys,
    find_runs,
    format_value,
    key_labels,
    load_run,
    name_runs,
)

LN2 = math.log(2.0)


@dataclass(frozen=True)
class XAxis:
    key: str
    """The metrics.jsonl key on the x axis."""
    label: str
    log_with_y: bool = False
    """--log makes this axis logarithmic too (FLOPs and tokens span decades)."""


X_AXES = {"step": XAxis("step", "step"), "tokens": XAxis("tokens", "tokens seen (characters for task.tokenizer=char)", log_with_y=True),
          "time": XAxis("wall_s", "wall time (s)"), "flops": XAxis("flops", "training FLOPs", log_with_y=True)}


@dataclass(frozen=True)
class Metric:
    """What `--metric NAME` plots, sorts by and tabulates; declared once in METRICS."""

    key: str
    """The metrics.jsonl key whose values rank the runs."""
    label: str
    """y-axis label; {unit} becomes char (character-level LM runs) or token."""
    points: str | None = None
    """The metrics.jsonl key drawn solid with markers (evaluations); None: none."""
    train_scale: float | None = None
    """Training curves for loss metrics: train_loss times this (None: no training curve)."""
    higher_is_better: bool = False
    summary_best: str | None = None
    """summary.json's key for the run's best value, when it keeps one."""
    rank_by_last: bool = False
    """Rank by the last value (a noisy training loss has no meaningful best)."""
    column: str | None = None
    """An extra table column with the last value, when the summary has none."""


METRICS = {
    "val_loss": Metric("val_loss", "validation cross-entropy (nats / {unit})", "val_loss", 1.0,
                       summary_best="best_val_loss"),
    "train_loss": Metric("train_loss", "cross-entropy (nats / {unit})", "val_loss", 1.0,
                         rank_by_last=True, column="final train"),
    "val_bpc": Metric("val_bpc", "validation bits per character", "val_bpc", 1 / LN2, summary_best="best_val_bpc"),
    "accuracy": Metric("val_acc", "validation token accuracy", "val_acc", higher_is_better=True),
    "val_acc": Metric("val_acc", "validation token accuracy", "val_acc", higher_is_better=True),
    "val_seq_acc": Metric("val_seq_acc", "validation exact-sequence accuracy", "val_seq_acc", higher_is_better=True),
    "val_unseen_acc": Metric("val_unseen_acc", "token accuracy on lengths longer than any trained on",
                             "val_unseen_acc", higher_is_better=True),
    "val_bpb": Metric("val_bpb", "validation bits per UTF-8 byte (any tokenizer)", "val_bpb"),
}


def compare_command(paths: list[str], x: str, metric: str, smooth: float, log: bool,
                    out: Path | None, wide: bool = False, best_over: list[str] | None = None,
                    group: str | None = None, baseline: str | None = None) -> Path:
    """Load the runs, print the table, write compare.png/.md/.csv; returns the output folder.

    `best_over`, `group`, `baseline` and a config key as `x`: see seqlab/analysis/groups.py."""
    from rich.console import Console

    if not re.fullmatch(r"[A-Za-z_][\w.-]*", x):
        raise SeqlabError(f"--x must be one of {', '.join(X_AXES)} or a config key (model.n_embd), got '{x}'")
    if metric not in METRICS:
        raise SeqlabError(f"--metric must be one of {', '.join(METRICS)}, got '{metric}'")
    if not 0 <= smooth < 1:
        raise SeqlabError(f"--smooth is the EMA weight of the past, in [0, 1); got {smooth}")
    if baseline is not None and group is None:
        raise SeqlabError("--baseline names the group to test the others against: give --group KEY with it")
    if not paths:
        raise SeqlabError("name at least one run folder, sweep folder or glob")
    err = Console(stderr=True, soft_wrap=True)
    runs, metric, ranked_note = load_runs(paths, metric, err)
    spec = METRICS[metric]
    choices = groups.resolve_options(runs, x, list(X_AXES), best_over or [], group, baseline)
    if choices.best_over:
        runs, kept = groups.keep_best(runs, choices.best_over, spec)
        err.print(kept, highlight=False, markup=False)
    keys = differing_keys([r.config for r in runs])
    name_runs(runs, keys)
    runs.sort(key=lambda r: rank_key(r, spec))

    out = Path(out) if out else _default_out()  # never into the folders being read
    out.mkdir(parents=True, exist_ok=True)
    header, rows, raw = table_rows(runs, keys, spec)
    labels = [key_labels(keys).get(h, h) for h in header]  # hidden_size, not model.hidden_size
    title = (f"{len(runs)} run(s), sorted by {metric} ({'higher' if spec.higher_is_better else 'lower'} "
             f"is better{ranked_note})")
    short = run_labels(runs, keys)
    print_fitted(header, rows, runs, keys, spec, title, wide)
    tables, extra = [(title, labels, rows)], None
    if choices.group and not choices.x:
        g_title, g_header, g_rows, per_run, g_columns = groups.group_table(runs, choices, spec,
                                                                           lambda k: short_keys([k])[k])
        groups.print_group_table(g_title, g_header, g_rows)
        tables.append((g_title, g_header, g_rows))
        extra = (g_columns, per_run)
    _write_markdown(out / "compare.md", tables)
    _write_csv(out / "compare.csv", header, raw, runs, extra)
    if choices.x:
        plot_final(groups.final_points(runs, choices.x, choices.group, spec, warn), out / "compare.png",
                   choices.x, runs, metric, spec, log)
    else:
        plot_compare(runs, out / "compare.png", X_AXES[x], metric, spec, smooth, log, warn,
                     labels=[f"{i}  {s}" for i, s in enumerate(short, 1)])
    print(f"wrote compare.png, compare.md, compare.csv to {out}")
    return out


def load_runs(paths: list[str], metric: str, err: Any) -> tuple[list[Run], str, str]:
    """The runs under `paths`, the metric that ranks them and a note on why it does."""
    folders, skipped = find_runs(paths)
    _report_found(folders, skipped, paths, err)
    runs = [load_run(p, warn) for p in folders]
    metric, ranked_note = comparable_metric(runs, metric)
    spec = METRICS[metric]
    if not any(values(r, spec) for r in runs):
        have = sorted({k for r in runs for rec in r.records for k in rec if k.startswith(("val_", "train_"))})
        raise SeqlabError(f"no run records {metric} ({spec.key}); these runs record: {', '.join(have) or 'nothing'}")
    return runs, metric, ranked_note


def _report_found(folders: list[Path], skipped: list[Path], paths: list[str], err: Any) -> None:
    """Say what was compared and which folders under the arguments hold no run."""
    from rich.markup import escape

    where = paths[0] if len(paths) == 1 else f"{len(paths)} arguments"
    err.print(escape(f"found {len(folders)} run(s) in {where}"))
    if skipped:
        shown = ", ".join(str(p) for p in skipped[:5]) + (f" and {len(skipped) - 5} more" if len(skipped) > 5 else "")
        err.print(escape(f"skipped {len(skipped)} folder(s) with no run in them: {shown}"))


def _default_out() -> Path:
    now = datetime.now()
    return (Path(os.environ.get("SEQLAB_OUTPUTS", "outputs")) / "compare" / now.strftime("%Y-%m-%d")
            / now.strftime("%H-%M-%S"))


def values(run: Run, spec: Metric) -> list[float]:
    """The run's recorded values of the metric, in step order."""
    return [r[spec.key] for r in run.records if isinstance(r.get(spec.key), int | float)]


def rank_key(run: Run, spec: Metric) -> tuple[int, float]:
    """The run's best value of the metric (summary's when kept; the last one for rank_by_last);
    runs without one go last."""
    value = run.summary.get(spec.summary_best) if spec.summary_best else None
    if value is None:
        found = values(run, spec)
        if found:
            value = found[-1] if spec.rank_by_last else (max if spec.higher_is_better else min)(found)
        elif spec.higher_is_better:
            value = run.summary.get(f"final_{spec.key}")
    if not isinstance(value, int | float) or math.isnan(value):
        return (1, 0.0)
    return (0, -value if spec.higher_is_better else value)


def _num(value: Any, fmt: str) -> str:
    return "-" if not isinstance(value, int | float) else format(value, fmt)


def _si(value: Any) -> str:
    """1.23e10 -> 12.3 G: FLOPs and token counts readable at a glance."""
    if not isinstance(value, int | float):
        return "-"
    for scale, unit in ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value:.3g}"


def table_rows(runs: list[Run], keys: list[str], spec: Metric) -> tuple[list[str], list[list[str]], list[list[Any]]]:
    """Header, formatted rows (terminal, markdown) and raw rows (CSV), one row per run.

    Columns: name, the differing config keys (only those), then the results; bpc, bpb and
    accuracy columns appear when some run has them.
    """
    s = [r.summary for r in runs]
    accuracies = (("final_val_acc", "val acc"), ("final_val_seq_acc", "seq acc"),
                  ("final_val_unseen_acc", "unseen acc"))
    has = {k: any(x.get(k) is not None for x in s)
           for k in ("final_val_bpc", "final_val_bpb", *(key for key, _ in accuracies))}
    cols: list[tuple[str, Any, Any]] = [  # (header, raw value of a run, formatter)
        ("name", lambda r: r.name, str),
        *[(k, lambda r, k=k: r.config.get(k), format_value) for k in keys],
        ("params", lambda r: r.summary.get("params"), lambda v: _num(v, ",")),
        ("steps", lambda r: r.summary.get("steps"), lambda v: _num(v, ",")),
        ("tokens", lambda r: r.summary.get("tokens"), _si),
    ]
    if spec.column:
        cols.append((spec.column, lambda r: (values(r, spec) or [None])[-1], lambda v: _num(v, ".4f")))
    cols += [("best val loss", lambda r: r.summary.get("best_val_loss"), lambda v: _num(v, ".4f")),
             ("final val loss", lambda r: r.summary.get("final_val_loss"), lambda v: _num(v, ".4f"))]
    if has["final_val_bpc"]:
        cols.append(("bpc", lambda r: r.summary.get("final_val_bpc"), lambda v: _num(v, ".3f")))
    if has["final_val_bpb"]:  # bits per byte: the column that compares tokenizers
        cols.append(("bpb", lambda r: r.summary.get("final_val_bpb"), lambda v: _num(v, ".3f")))
    cols += [(head, lambda r, key=key: r.summary.get(key), lambda v: _num(v, ".3f"))
             for key, head in accuracies if has[key]]
    cols += [("tokens/s", lambda r: r.summary.get("tokens_per_s"), lambda v: _num(v, ",.0f")),
             ("wall s", lambda r: r.summary.get("wall_s"), lambda v: _num(v, ".1f")),
             ("FLOPs", lambda r: r.summary.get("flops"), _si),
             ("status", lambda r: r.summary.get("status", "?"), str)]
    raw = [[get(r) for _, get, _ in cols] for r in runs]
    rows = [[fmt(v) for v, (_, _, fmt) in zip(row, cols)] for row in raw]
    return [h for h, _, _ in cols], rows, raw


# --- the terminal's table: numbered runs, short labels, the columns that fit ------------------

TOKEN_METRICS = ("val_loss", "train_loss")
"""Losses per token: a token of one tokenizer is not a token of another."""


def tokenizer_of(run: Run) -> str | None:
    """The run's tokenizer (char, byte, bpe) when its task has one."""
    found = run.summary.get("tokenizer") or run.config.get("task.tokenizer")
    return found if isinstance(found, str) else None


def comparable_metric(runs: list[Run], metric: str) -> tuple[str, str]:
    """(the metric to rank by, a note for the title). Runs of different tokenizers are ranked
    per byte (val_bpb) or per character (val_bpc), never per token; with neither recorded by
    every run they are not ranked at all."""
    kinds = sorted({k for k in map(tokenizer_of, runs) if k})
    if len(kinds) < 2 or metric not in TOKEN_METRICS:
        return metric, ""
    have = [r for r in runs if values(r, METRICS[metric])]
    for other in ("val_bpb", "val_bpc"):
        if have and all(values(r, METRICS[other]) for r in have):
            unit = "bits per UTF-8 byte" if other == "val_bpb" else "bits per character"
            warn(f"the runs use different tokenizers ({', '.join(kinds)}): {metric} is per token, and a "
                 f"token is a different unit in each; ranking by {other} ({unit}) instead")
            return other, f"; {metric} is per token and the tokenizers differ"
    raise SeqlabError(f"the runs use different tokenizers ({', '.join(kinds)}): {metric} is per token and a "
                      "token is a different unit in each, so it cannot rank them, and not every run records "
                      "val_bpb or val_bpc (per byte, per character); compare runs of one tokenizer")


def short_keys(keys: list[str]) -> dict[str, str]:
    """model.hidden_size -> hidden, model.num_layers -> layers, trainer.lr -> lr (unless two clash)."""
    tails = key_labels(keys)
    short = {k: re.sub(r"_size$", "", re.sub(r"^(num_|n_)", "", t)) if "." not in t else t
             for k, t in tails.items()}
    clashes = {s for s in short.values() if list(short.values()).count(s) > 1}
    return {k: tails[k] if s in clashes else s for k, s in short.items()}


def run_labels(runs: list[Run], keys: list[str]) -> list[str]:
    """Each run's short label: its model and task when those differ, then key=value for the keys
    that change what it learns; the folder name when that tells nothing apart."""
    short = short_keys(keys)
    vary = [attr for attr in ("model", "task") if len({getattr(r, attr) for r in runs}) > 1]
    labels = []
    for run in runs:
        parts = [getattr(run, a) for a in vary] + [
            f"{short[k]}={format_value(run.config[k])}" for k in keys
            if k in run.config and k not in BOOKKEEPING_KEYS]
        labels.append(" ".join(parts) or run.path.name)
    return [f"{lb} [{r.path.name}]" if labels.count(lb) > 1 else lb for lb, r in zip(labels, runs)]


def _write_markdown(path: Path, tables: list[tuple[str, list[str], list[list[str]]]]) -> None:
    """Each (title, header, rows) as a markdown table: the runs' first, then the grouped one."""
    cell = lambda v: str(v).replace("|", "\\|")  # noqa: E731 - a pipe would split the cell
    lines: list[str] = []
    for title, header, rows in tables:
        left = ("name", "status") if not lines else (header[0], "note")  # the rest is right-aligned
        lines += [*([""] if lines else []), f"{title}", "", "| " + " | ".join(map(cell, header)) + " |",
                  "|" + "|".join("---" if h in left else "---:" for h in header) + "|"]
        lines += ["| " + " | ".join(map(cell, row)) + " |" for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _write_csv(path: Path, header: list[str], raw: list[list[Any]], runs: list[Run],
               extra: tuple[list[str], dict[int, list[Any]]] | None = None) -> None:
    """One row per run; with `extra` (--group's columns, by id of the run) its group's statistics too."""
    names, by_run = extra or ([], {})
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow([*header, *names, "path"])
        for row, run in zip(raw, runs):
            more = by_run.get(id(run), [None] * len(names))
            writer.writerow([*("" if v is None else v for v in (*row, *more)), str(run.path)])


RANKED_COLUMN = {"val_loss": "best val loss", "train_loss": "final train", "val_bpc": "bpc", "val_bpb": "bpb",
                 "val_acc": "val acc", "val_seq_acc": "seq acc", "val_unseen_acc": "unseen acc"}
# Result columns the terminal drops first when the table is too wide, last first.
DROPPABLE = ("final val loss", "bpb", "bpc", "val acc", "seq acc", "unseen acc", "final train", "steps", "params", "tokens",
             "tokens/s", "wall s", "FLOPs")


def print_fitted(header: list[str], rows: list[list[str]], runs: list[Run], keys: list[str], spec: Metric,
                 title: str, wide: bool) -> None:
    """The table on stdout at the terminal's width: run numbers, the columns that tell the runs
    apart, the ranked metric and status always; other columns while they fit (all with `wide`).
    When even the keys that tell the runs apart do not fit, they go into a table of their own."""
    from rich.console import Console

    short = short_keys(keys)
    vary = [a for a in ("model", "task") if len({getattr(r, a) for r in runs}) > 1]
    learning = [short[k] for k in keys if k not in BOOKKEEPING_KEYS]
    column = {h: [row[i] for row in rows] for i, h in enumerate(header)}
    cols: dict[str, list[str]] = {"#": [str(i) for i in range(1, len(runs) + 1)]}
    cols.update({a: [getattr(r, a) for r in runs] for a in vary})
    if not learning and not vary:  # nothing differs: the folder names tell the runs apart
        cols["run"] = run_labels(runs, keys)
    cols.update({short[k]: column[k] for k in keys if k not in BOOKKEEPING_KEYS})
    cols.update({h: column[h] for h in header if h not in keys and h != "name"})
    cols.update({short[k]: column[k] for k in keys if k in BOOKKEEPING_KEYS})
    must = {"#", "run", "status", RANKED_COLUMN.get(spec.key, ""), *vary, *learning}
    order = [short[k] for k in keys if k in BOOKKEEPING_KEYS][::-1] + [h for h in DROPPABLE[::-1] if h in cols]
    console = Console()
    if wide:  # never crop a value away: the whole table at its natural width
        console = Console(width=max(console.width, _width(console, cols, runs, title)))
        console.print(_fitted_table(cols, runs, title))
        return
    full = dict(cols)
    dropped = _fit(console, cols, [h for h in order if h not in must], runs, title)
    if _width(console, cols, runs, title) > console.width and (learning or vary):
        console.print(_fitted_table({"#": cols["#"], "run": run_labels(runs, keys)}, runs, "the runs"))
        cols = {h: v for h, v in full.items() if h not in (*learning, *vary)}
        dropped = _fit(console, cols, [h for h in order if h not in must], runs, title)
    console.print(_fitted_table(cols, runs, title))
    if dropped:
        console.print(f"not shown at {console.width} columns: {', '.join(dropped)} (--wide shows them; "
                      "compare.csv and compare.md have every column)", highlight=False)


def _fit(console: Any, cols: dict[str, list[str]], drop: list[str], runs: list[Run], title: str) -> list[str]:
    """Drop columns of `drop`, first ones first, until the table fits; returns those dropped."""
    dropped = []
    while drop and _width(console, cols, runs, title) > console.width:
        dropped.append(drop.pop(0))
        del cols[dropped[-1]]
    return dropped


def _fitted_table(cols: dict[str, list[str]], runs: list[Run], title: str):
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for h, cells in cols.items():
        left = h in ("#", "run", "status") or any(not re.fullmatch(r"[-+\d.,e kMGTP]*", c) for c in cells)
        table.add_column(h, justify="left" if left else "right", overflow="fold")
    for i, run in enumerate(runs):
        done = run.summary.get("status") == "completed"
        table.add_row(*(values[i] for values in cols.values()), style=None if done else "yellow")
    return table


def _width(console: Any, cols: dict[str, list[str]], runs: list[Run], title: str) -> int:
    table = _fitted_table(cols, runs, title)
    return console.measure(table, options=console.options.update_width(10_000)).maximum
