"""compare.png: one metric of several runs against step, tokens, wall time or FLOPs.

Evaluations are drawn solid with markers, training loss dashed (debiased EMA, the same
smoothing as loss.png). When every run has a single evaluation (a sweep evaluated only at
its end) a line plot would be one dot per run: the runs are drawn as bars instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from seqlab.plots.loss import ema
from seqlab.runs.reader import Run

if TYPE_CHECKING:
    from seqlab.analysis.compare import Metric, XAxis


def unit(runs: list[Run]) -> str:
    """char when every run is a character-level language model (bpc recorded), else token."""
    return "char" if all(r.summary.get("final_val_bpc") is not None for r in runs) else "token"


def _series(run: Run, x: str, y: str, scale: float = 1.0) -> list[tuple[float, float]]:
    return [(r[x], r[y] * scale) for r in run.records
            if isinstance(r.get(x), int | float) and isinstance(r.get(y), int | float)]


def plot_compare(runs: list[Run], path: Path, axis: XAxis, metric: str, spec: Metric, smooth: float,
                 log: bool, warn: Any = print) -> Path:
    """Draw the runs' curves (or bars, one evaluation each) into `path`."""
    from seqlab.plots import new_figure, save_figure

    label = spec.label.format(unit=unit(runs))
    points = {run.name: _series(run, axis.key, spec.points) if spec.points else [] for run in runs}
    fig, axes = new_figure(1, 1, (9.5, 5))
    ax = axes[0][0]
    if all(len(p) <= 1 for p in points.values()) and any(points.values()):
        _bars(ax, runs, points, label, metric, log)
    else:
        _curves(ax, runs, points, axis, metric, spec, smooth, warn)
        ax.set_xlabel(axis.label)
        ax.set_ylabel(label)
        ax.set_title(f"{metric} vs {axis.label} ({len(runs)} runs)", fontsize=10)
        if log and axis.log_with_y:
            ax.set_xscale("log")
        if log:
            ax.set_yscale("log")
    return save_figure(fig, path, bbox_inches="tight")


def _curves(ax: Any, runs: list[Run], points: dict[str, list], axis: XAxis, metric: str,
            spec: Metric, smooth: float, warn: Any) -> None:
    import matplotlib
    from matplotlib.lines import Line2D

    colors = matplotlib.colormaps["tab10" if len(runs) <= 10 else "tab20"]
    handles, drew_train = [], False
    for i, run in enumerate(runs):
        color = colors(i % colors.N)
        val = points[run.name]
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
        handles.append(Line2D([], [], color=color, lw=2, label=run.name))
    styles = [Line2D([], [], color="0.3", marker="o", ms=3.5, lw=1.8, label=f"validation ({spec.points})")]
    if drew_train:
        what = "train bpc" if metric == "val_bpc" else "train loss"
        styles.append(Line2D([], [], color="0.3", ls="--", lw=1.2, label=f"{what} (EMA {smooth:g}, debiased)"))
    ax.grid(alpha=0.3, which="both")
    # Beside the axes, never over a curve; many runs: below, in columns.
    if len(handles) <= 10:
        ax.legend(handles=handles + styles, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    else:
        ax.legend(handles=handles + styles, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14),
                  ncol=2 if len(handles) <= 20 else 3, frameon=False)


def _bars(ax: Any, runs: list[Run], points: dict[str, list], label: str, metric: str, log: bool) -> None:
    """One bar per run at its only evaluation, best first (runs come sorted)."""
    drawn = [(run.name, points[run.name][0]) for run in runs if points[run.name]]
    names = [name for name, _ in drawn]
    ax.barh(range(len(drawn)), [p[1] for _, p in drawn], color="tab:blue", alpha=0.8, log=log)
    ax.set_yticks(range(len(drawn)), names, fontsize=8)
    ax.invert_yaxis()
    for i, (_, (_step, y)) in enumerate(drawn):
        ax.text(y, i, f" {y:.4g}", va="center", fontsize=8)
    ax.set_xlabel(label)
    ax.set_title(f"{metric}: each run's one evaluation ({len(drawn)} runs)", fontsize=10)
    ax.grid(alpha=0.3, axis="x")
