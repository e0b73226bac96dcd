"""`seqlab compare`: a table, an overlay plot, compare.md and compare.csv for a set of runs.

Runs come from run folders, sweep folders or globs (see seqlab.runs.reader); runs of
different length, still running or with a broken file are used as far as they go.
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from seqlab.analysis.compare_plot import plot_compare
from seqlab.errors import SeqlabError, warn
from seqlab.runs.reader import (
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
    "val_bpb": Metric("val_bpb", "validation bits per UTF-8 byte (any tokenizer)", "val_bpb"),
}


def compare_command(paths: list[str], x: str, metric: str, smooth: float, log: bool,
                    out: Path | None) -> Path:
    """Load the runs, print the table, write compare.png/.md/.csv; returns the output folder."""
    from rich.console import Console

    if x not in X_AXES:
        raise SeqlabError(f"--x must be one of {', '.join(X_AXES)}, got '{x}'")
    if metric not in METRICS:
        raise SeqlabError(f"--metric must be one of {', '.join(METRICS)}, got '{metric}'")
    if not 0 <= smooth < 1:
        raise SeqlabError(f"--smooth is the EMA weight of the past, in [0, 1); got {smooth}")
    if not paths:
        raise SeqlabError("name at least one run folder, sweep folder or glob")
    err = Console(stderr=True, soft_wrap=True)

    folders, skipped = find_runs(paths)
    _report_found(folders, skipped, paths, err)
    runs = [load_run(p, warn) for p in folders]
    keys = differing_keys([r.config for r in runs])
    name_runs(runs, keys)
    spec = METRICS[metric]
    if not any(values(r, spec) for r in runs):
        have = sorted({k for r in runs for rec in r.records for k in rec if k.startswith(("val_", "train_"))})
        raise SeqlabError(f"no run records {metric} ({spec.key}); these runs record: {', '.join(have) or 'nothing'}")
    runs.sort(key=lambda r: _sort_key(r, spec))

    out = Path(out) if out else _default_out()  # never into the folders being read
    out.mkdir(parents=True, exist_ok=True)
    header, rows, raw = table_rows(runs, keys, spec)
    labels = [key_labels(keys).get(h, h) for h in header]  # hidden_size, not model.hidden_size
    title = f"{len(runs)} run(s), sorted by {metric} ({'higher' if spec.higher_is_better else 'lower'} is better)"
    console, table = Console(), _rich_table(labels, rows, title)
    # Never crop a value away: a pipe or file (80 columns) or a narrow terminal gets the whole
    # table at its natural width (a terminal wraps the lines; the .md and .csv are whole anyway).
    need = console.measure(table, options=console.options.update_width(10_000)).maximum
    if need > console.width:
        console = Console(width=need)
    console.print(table)
    _write_markdown(out / "compare.md", labels, rows, title)
    _write_csv(out / "compare.csv", header, raw, runs)
    plot_compare(runs, out / "compare.png", X_AXES[x], metric, spec, smooth, log, warn)
    print(f"wrote compare.png, compare.md, compare.csv to {out}")
    return out


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


def _sort_key(run: Run, spec: Metric) -> tuple[int, float]:
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
    has = {k: any(x.get(k) is not None for x in s) for k in ("final_val_bpc", "final_val_bpb", "final_val_acc",
                                                          "final_val_seq_acc")}
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
    if has["final_val_acc"]:
        cols.append(("val acc", lambda r: r.summary.get("final_val_acc"), lambda v: _num(v, ".3f")))
    if has["final_val_seq_acc"]:
        cols.append(("seq acc", lambda r: r.summary.get("final_val_seq_acc"), lambda v: _num(v, ".3f")))
    cols += [("tokens/s", lambda r: r.summary.get("tokens_per_s"), lambda v: _num(v, ",.0f")),
             ("wall s", lambda r: r.summary.get("wall_s"), lambda v: _num(v, ".1f")),
             ("FLOPs", lambda r: r.summary.get("flops"), _si),
             ("status", lambda r: r.summary.get("status", "?"), str)]
    raw = [[get(r) for _, get, _ in cols] for r in runs]
    rows = [[fmt(v) for v, (_, _, fmt) in zip(row, cols)] for row in raw]
    return [h for h, _, _ in cols], rows, raw


def _rich_table(header: list[str], rows: list[list[str]], title: str):
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for i, h in enumerate(header):
        table.add_column(h, justify="left" if i == 0 or h == "status" else "right", overflow="fold")
    for row in rows:
        table.add_row(*row, style="yellow" if row[-1] not in ("completed",) else None)
    return table


def _write_markdown(path: Path, header: list[str], rows: list[list[str]], title: str) -> None:
    cell = lambda v: str(v).replace("|", "\\|")  # noqa: E731 - a pipe would split the cell
    lines = [f"{title}", "", "| " + " | ".join(map(cell, header)) + " |",
             "|" + "|".join("---" if h in ("name", "status") else "---:" for h in header) + "|"]
    lines += ["| " + " | ".join(map(cell, row)) + " |" for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _write_csv(path: Path, header: list[str], raw: list[list[Any]], runs: list[Run]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow([*header, "path"])
        for row, run in zip(raw, runs):
            writer.writerow([*("" if v is None else v for v in row), str(run.path)])
