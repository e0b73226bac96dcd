"""compare.png: one metric of several runs against step, tokens, wall time or FLOPs.

Evaluations are drawn solid with markers, training loss dashed (debiased EMA, the same
smoothing as loss.png). When every run has a single evaluation (a sweep evaluated only at
its end) a line plot would be one dot per run: the runs are drawn as bars instead.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seqlab.plots.loss import ema, scored_per_char
from seqlab.runs.reader import Run

if TYPE_CHECKING:
    from seqlab.analysis.compare import Metric, XAxis


def per_char(run: Run) -> bool:
    """Whether the run's loss is per character: its tokenizer says so, or (a run that does not
    name it) its evaluations score as many tokens as characters (val_bpc x ln 2 = val_loss)."""
    found = run.summary.get("tokenizer") or run.config.get("task.tokenizer")
    if isinstance(found, str):
        return found == "char"
    return scored_per_char(run.records)


def unit(runs: list[Run]) -> str:
    """char when every run's loss is per character (character-level), else token."""
    return "char" if runs and all(per_char(r) for r in runs) else "token"


def _series(run: Run, x: str, y: str, scale: float = 1.0) -> list[tuple[float, float]]:
    return [(r[x], r[y] * scale) for r in run.records
            if isinstance(r.get(x), int | float) and isinstance(r.get(y), int | float)]


def plot_compare(runs: list[Run], path: Path, axis: XAxis, metric: str, spec: Metric, smooth: float,
                 log: bool, warn: Any = print, labels: list[str] | None = None) -> Path:
    """Draw the runs' curves (or bars, one evaluation each) into `path`; `labels` name the runs
    in the legend (default: their names)."""
    from seqlab.plots import new_figure, plain_log_ticks, save_figure

    label = spec.label.format(unit=unit(runs))
    names = [legend_label(s) for s in labels or [r.name for r in runs]]
    points = {i: _series(run, axis.key, spec.points) if spec.points else [] for i, run in enumerate(runs)}
    fig, axes = new_figure(1, 1, (9.5, 5))
    ax = axes[0][0]
    if all(len(p) <= 1 for p in points.values()) and any(points.values()):
        _bars(ax, runs, points, label, metric, log)
        ax.set_yticks(range(len([p for p in points.values() if p])), [n for i, n in enumerate(names) if points[i]],
                      fontsize=8)
    else:
        _curves(ax, runs, names, points, axis, metric, spec, smooth, warn)
        ax.set_xlabel(axis.label)
        ax.set_ylabel(label)
        ax.set_title(f"{metric} vs {axis.label} ({len(runs)} runs)", fontsize=10)
        if log and axis.log_with_y:
            ax.set_xscale("log")
        if log:
            ax.set_yscale("log")
    plain_log_ticks(ax)
    return save_figure(fig, path, bbox_inches="tight")


LEGEND_CHARS = 40  # a longer label is cut: its number finds it in the table


def legend_label(text: str) -> str:
    return text if len(text) <= LEGEND_CHARS else text[:LEGEND_CHARS - 1] + "…"


def _curves(ax: Any, runs: list[Run], names: list[str], points: dict[int, list], axis: XAxis, metric: str,
            spec: Metric, smooth: float, warn: Any) -> None:
    import matplotlib
    from matplotlib.lines import Line2D

    colors = matplotlib.colormaps["tab10" if len(runs) <= 10 else "tab20"]
    handles, drew_train = [], False
    for i, run in enumerate(runs):
        color = colors(i % colors.N)
        val = points[i]
        train = _series(run, axis.key, "train_loss", spec.train_scale) if spec.train_scale else []
        if not val and not train:
            warn(f"{run.path}: no {spec.key} against {axis.key} to draw")
            continue
        if train:
            xs, ys = zip(*train)
            ax.plot(xs, ema(list(ys), smooth), "--", color=color, lw=1.2, alpha=0.8)
            drew_train = True
        if val:
            xs, ys = zip(*val)
            ax.plot(xs, ys, "o-", color=color, lw=1.8, ms=3.5)
        handles.append(Line2D([], [], color=color, lw=2, label=names[i]))
    styles = [Line2D([], [], color="0.3", marker="o", ms=3.5, lw=1.8, label=f"validation ({spec.points})")]
    if drew_train:
        what = "train bpc" if metric == "val_bpc" else "train loss"
        styles.append(Line2D([], [], color="0.3", ls="--", lw=1.2, label=f"{what} (EMA {smooth:g}, debiased)"))
    ax.grid(alpha=0.3, which="both")
    # Outside the axes, never over a curve: beside them for a few short labels, else below, in columns.
    longest = max((len(h.get_label()) for h in handles + styles), default=0)
    if len(handles) <= 10 and longest <= 28:
        ax.legend(handles=handles + styles, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    else:
        ncol = max(1, min(4, 110 // max(longest, 1), math.ceil(len(handles + styles) / 3)))
        ax.legend(handles=handles + styles, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16),
                  ncol=ncol, frameon=False)


def _bars(ax: Any, runs: list[Run], points: dict[int, list], label: str, metric: str, log: bool) -> None:
    """One bar per run at its only evaluation, best first (runs come sorted); the caller names them."""
    drawn = [(run.name, points[i][0]) for i, run in enumerate(runs) if points[i]]
    ax.barh(range(len(drawn)), [p[1] for _, p in drawn], color="tab:blue", alpha=0.8, log=log)
    ax.invert_yaxis()
    for i, (_, (_step, y)) in enumerate(drawn):
        ax.text(y, i, f" {y:.4g}", va="center", fontsize=8)
    ax.set_xlabel(label)
    ax.set_title(f"{metric}: each run's one evaluation ({len(drawn)} runs)", fontsize=10)
    ax.grid(alpha=0.3, axis="x")


def plot_final(lines: dict[str, list[tuple[Any, float]]], path: Path, x_key: str, runs: list[Run], metric: str,
               spec: Metric, log: bool) -> Path:
    """Each run's final metric against a config key: one line per group through the mean at each
    x (a dot per run where several share an x); --log makes the x axis logarithmic."""
    from seqlab.analysis.groups import is_numeric
    from seqlab.plots import new_figure, plain_log_ticks, save_figure

    xs_all = [x for points in lines.values() for x, _ in points]
    numeric = is_numeric(xs_all)
    categories = sorted({str(x) for x in xs_all})
    fig, axes = new_figure(1, 1, (9.5, 5))
    ax = axes[0][0]
    for name, points in lines.items():
        at = [x if numeric else categories.index(str(x)) for x, _ in points]
        ys = [y for _, y in points]
        xs = list(dict.fromkeys(at))
        means = [sum(y for a, y in zip(at, ys) if a == x) / at.count(x) for x in xs]
        line, = ax.plot(xs, means, "o-", lw=1.8, ms=4, label=legend_label(name))
        if len(xs) < len(at):
            ax.plot(at, ys, ".", color=line.get_color(), alpha=0.5, ms=5)
    if not numeric:
        ax.set_xticks(range(len(categories)), categories)
    elif log and all(x > 0 for x in xs_all):
        ax.set_xscale("log")
    ax.set_xlabel(x_key)
    ax.set_ylabel(f"final {spec.label.format(unit=unit(runs))}")
    ax.set_title(f"final {metric} vs {x_key} ({len(xs_all)} runs)", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    plain_log_ticks(ax)
    ticks = sorted(set(xs_all))
    if numeric and len(ticks) <= 12:  # a sweep's few values: each one named, nothing between
        ax.set_xticks(ticks, [f"{x:g}" for x in ticks])
        ax.set_xticks([], minor=True)
    return save_figure(fig, path, bbox_inches="tight")
