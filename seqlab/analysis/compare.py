"""`seqlab compare`: a table, an overlay plot, compare.md and compare.csv for a set of runs.

Runs come from run folders, sweep folders or globs (see seqlab.analysis.runs); runs of
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

from seqlab.analysis.runs import (
    Run,
    differing_keys,
    find_runs,
    format_value,
    key_labels,
    load_run,
    name_runs,
)
from seqlab.errors import SeqlabError
from seqlab.plots.loss import ema

LN2 = math.log(2.0)
X_AXES = {"step": ("step", "step"), "tokens": ("tokens", "tokens seen (characters for task.tokenizer=char)"),
          "time": ("wall_s", "wall time (s)"), "flops": ("flops", "training FLOPs")}


@dataclass(frozen=True)
class Metric:
    key: str
    """The metrics.jsonl key drawn."""
    label: str
    higher_is_better: bool = False
    train_scale: float | None = None
    """Training curves for loss metrics: train_loss times this (None: no training curve)."""


METRICS = {
    "val_loss": Metric("val_loss", "cross-entropy (nats / token)", train_scale=1.0),
    "train_loss": Metric("val_loss", "cross-entropy (nats / token)", train_scale=1.0),
    "val_bpc": Metric("val_bpc", "bits per character", train_scale=1 / LN2),
    "val_bpb": Metric("val_bpb", "bits per UTF-8 byte (any tokenizer)"),
    "accuracy": Metric("val_acc", "validation accuracy", higher_is_better=True),
    "val_acc": Metric("val_acc", "validation accuracy", higher_is_better=True),
    "val_seq_acc": Metric("val_seq_acc", "validation sequence accuracy", higher_is_better=True),
}


def compare_command(paths: list[str], x: str, metric: str, smooth: float, log: bool,
                    out: Path | None) -> Path:
    """Load the runs, print the table, write compare.png/.md/.csv; returns the output folder."""
    from rich.console import Console
    from rich.markup import escape

    if x not in X_AXES:
        raise SeqlabError(f"--x must be one of {', '.join(X_AXES)}, got '{x}'")
    if metric not in METRICS:
        raise SeqlabError(f"--metric must be one of {', '.join(METRICS)}, got '{metric}'")
    if not 0 <= smooth < 1:
        raise SeqlabError(f"--smooth is the EMA weight of the past, in [0, 1); got {smooth}")
    if not paths:
        raise SeqlabError("name at least one run folder, sweep folder or glob")
    err = Console(stderr=True, soft_wrap=True)

    def warn(message: str) -> None:
        err.print(f"[yellow]warning:[/] {escape(message)}")

    folders, sweep = find_runs(paths)
    runs = [load_run(p, warn) for p in folders]
    keys = differing_keys([r.config for r in runs])
    name_runs(runs, keys)
    spec = METRICS[metric]
    if not any(_values(r, spec, metric) for r in runs):
        have = sorted({k for r in runs for rec in r.records for k in rec if k.startswith(("val_", "train_"))})
        raise SeqlabError(f"no run records {metric} ({spec.key}); these runs record: {', '.join(have) or 'nothing'}")
    runs.sort(key=lambda r: _sort_key(r, spec, metric))

    out = Path(out) if out else sweep or _default_out()
    out.mkdir(parents=True, exist_ok=True)
    header, rows, raw = table_rows(runs, keys, metric)
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
    plot_compare(runs, out / "compare.png", x, metric, smooth, log, warn)
    print(f"wrote compare.png, compare.md, compare.csv to {out}")
    return out


def _default_out() -> Path:
    now = datetime.now()
    return (Path(os.environ.get("SEQLAB_OUTPUTS", "outputs")) / "compare" / now.strftime("%Y-%m-%d")
            / now.strftime("%H-%M-%S"))


def _values(run: Run, spec: Metric, metric: str) -> list[float]:
    key = "train_loss" if metric == "train_loss" else spec.key
    return [r[key] for r in run.records if isinstance(r.get(key), int | float)]


def _sort_key(run: Run, spec: Metric, metric: str) -> tuple[int, float]:
    """Best value of the metric (losses: summary's best, train loss: its last value); runs without
    one go last."""
    best = {"val_loss": "best_val_loss", "val_bpc": "best_val_bpc"}.get(metric)
    value = run.summary.get(best) if best else None
    if value is None:
        values = _values(run, spec, metric)
        if values:
            value = values[-1] if metric == "train_loss" else (max if spec.higher_is_better else min)(values)
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


def table_rows(runs: list[Run], keys: list[str], metric: str) -> tuple[list[str], list[list[str]], list[list[Any]]]:
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
    if metric == "train_loss":
        cols.append(("final train", lambda r: next((x["train_loss"] for x in reversed(r.records)
                                                    if x.get("train_loss") is not None), None),
                     lambda v: _num(v, ".4f")))
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


def plot_compare(runs: list[Run], path: Path, x: str, metric: str, smooth: float, log: bool,
                 warn: Any = print) -> None:
    """The metric against x for every run: validation solid with markers, training dashed (EMA)."""
    import logging

    import matplotlib

    logging.getLogger("matplotlib").setLevel(logging.WARNING)
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    spec = METRICS[metric]
    x_key, x_label = X_AXES[x]
    colors = plt.get_cmap("tab10" if len(runs) <= 10 else "tab20")
    fig, ax = plt.subplots(figsize=(8.5, 5), dpi=110)
    handles, drew_train = [], False
    for i, run in enumerate(runs):
        color = colors(i % colors.N)
        val = [(r[x_key], r[spec.key]) for r in run.records
               if isinstance(r.get(x_key), int | float) and isinstance(r.get(spec.key), int | float)]
        train = [(r[x_key], r["train_loss"] * spec.train_scale) for r in run.records
                 if spec.train_scale and isinstance(r.get(x_key), int | float)
                 and isinstance(r.get("train_loss"), int | float)]
        if not val and not train:
            warn(f"{run.path}: no {spec.key} against {x_key} to draw")
            continue
        if train:
            xs, ys = zip(*train)
            ax.plot(xs, ema(list(ys), smooth), "--", color=color, lw=1.2, alpha=0.8)
            drew_train = True
        if val:
            xs, ys = zip(*val)
            ax.plot(xs, ys, "o-", color=color, lw=1.8, ms=3.5)
        handles.append(Line2D([], [], color=color, lw=2, label=run.name))
    styles = [Line2D([], [], color="0.3", marker="o", ms=3.5, lw=1.8, label="validation")]
    if drew_train:
        styles.append(Line2D([], [], color="0.3", ls="--", lw=1.2,
                             label=f"train{' bpc' if metric == 'val_bpc' else ''} (EMA {smooth:g})"))
    ax.set_xlabel(x_label)
    ax.set_ylabel(spec.label if metric != "train_loss" else "cross-entropy (nats / token)")
    if log:
        ax.set_yscale("log")
    ax.grid(alpha=0.3, which="both")
    ax.set_title(f"{metric} vs {x}", fontsize=10)
    if len(handles) <= 6:  # few runs: inside the axes; many: below, in columns, readable
        ax.legend(handles=handles + styles, fontsize=8, loc="best")
    else:
        ax.legend(handles=handles + styles, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14),
                  ncol=2 if len(handles) <= 20 else 3, frameon=False)
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
