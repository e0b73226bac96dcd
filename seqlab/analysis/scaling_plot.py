"""The two figures of `seqlab scaling`, drawn from scaling.json's content (seqlab/analysis/scaling.py).

scaling_isoflop.png: final loss against parameters N (log x), one panel per family, one colour
per budget; each parabola drawn over its ladder (dotted when the budget was left out) and its
minimum marked with a star and its N_opt interval.
scaling_laws.png: N_opt and L_opt against the budget C (log-log), one colour per family, the
intervals as error bars and the fitted power laws as lines.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def _budget_colours(result: dict[str, Any]) -> dict[float, Any]:
    """One viridis colour per budget, the same in every panel."""
    from matplotlib import colormaps

    budgets = sorted({b["budget"] for b in result["budgets"]})
    cmap = colormaps["viridis"]
    return {c: cmap(0.85 * i / max(1, len(budgets) - 1)) for i, c in enumerate(budgets)}


def _errors(value: float, ci: list[float] | None) -> list[list[float]] | None:
    """matplotlib's asymmetric error bar [[below], [above]] from an interval."""
    if ci is None:
        return None
    return [[max(0.0, value - ci[0])], [max(0.0, ci[1] - value)]]


def _draw_budget(ax: Any, budget: dict[str, Any], colour: Any) -> None:
    """One budget's runs, parabola and minimum."""
    from seqlab.analysis.scaling import budget_text

    params = [r["params"] for r in budget["runs"]]
    label = f"C={budget_text(budget['budget'])}" + ("" if budget["used"] else " (left out)")
    ax.scatter(params, [r["loss"] for r in budget["runs"]], color=colour, s=22, zorder=3, label=label)
    if budget["coeffs"] is not None:
        u = np.linspace(np.log10(min(params)) - 0.1, np.log10(max(params)) + 0.1, 80)
        ax.plot(10 ** u, np.polyval(budget["coeffs"], u), color=colour, lw=1.3,
                ls="-" if budget["used"] else ":")
    if budget["used"]:
        ax.errorbar([budget["n_opt"]], [budget["loss_opt"]], xerr=_errors(budget["n_opt"], budget["n_opt_ci"]),
                    color=colour, marker="*", ms=12, mec="black", mew=0.6, capsize=3, zorder=4)


def plot_isoflop(result: dict[str, Any], path: Path) -> Path:
    """scaling_isoflop.png: loss vs N per family, a parabola per budget, minima starred."""
    from seqlab.plots import new_figure, plain_log_ticks, save_figure

    families = list(dict.fromkeys(b["family"] for b in result["budgets"]))
    colours = _budget_colours(result)
    fig, axes = new_figure(1, len(families), (4.6 * len(families) + 0.6, 4.4), sharey=True)
    for ax, family in zip(axes[0], families):
        for budget in (b for b in result["budgets"] if b["family"] == family):
            _draw_budget(ax, budget, colours[budget["budget"]])
        ax.set_xscale("log")
        plain_log_ticks(ax)
        ax.set_xlabel("parameters N")
        ax.set_title(f"{family}: final loss vs N at fixed C (\u2605 minimum)", fontsize=10)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel(f"final {result['metric']}")
    return save_figure(fig, path)


def _draw_law(ax: Any, points: list[dict[str, Any]], value: str, law: dict[str, Any] | None, slope: str,
              colour: Any, family: str) -> None:
    """One family's minima against C with their intervals, and its power law when it has one."""
    budgets = [b["budget"] for b in points]
    values = [b[value] for b in points]
    below = [v - b[f"{value}_ci"][0] if b[f"{value}_ci"] else 0.0 for v, b in zip(values, points)]
    above = [b[f"{value}_ci"][1] - v if b[f"{value}_ci"] else 0.0 for v, b in zip(values, points)]
    label = family
    if law is not None:
        ci = law[f"{slope}_ci"]
        label += f": {slope}={law[slope]:.3f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")
        log_c = np.linspace(np.log10(min(budgets)) - 0.1, np.log10(max(budgets)) + 0.1, 20)
        ax.plot(10 ** log_c, 10 ** (law[slope] * log_c + law["k"]), color=colour, lw=1.3)
    ax.errorbar(budgets, values, yerr=[np.maximum(below, 0), np.maximum(above, 0)], color=colour, marker="o",
                ls="none", capsize=3, label=label)


def plot_laws(result: dict[str, Any], path: Path) -> Path:
    """scaling_laws.png: N_opt vs C and L_opt vs C, log-log, a power law per family."""
    from matplotlib import colormaps
    from matplotlib.ticker import FuncFormatter, NullFormatter

    from seqlab.analysis.scaling import budget_text
    from seqlab.plots import new_figure, plain_log_ticks, save_figure

    fig, axes = new_figure(1, 2, (11, 4.4))
    n_ax, l_ax = axes[0]
    cmap = colormaps["tab10"]
    for i, family in enumerate(result["families"]):
        used = [b for b in result["budgets"] if b["family"] == family["family"] and b["used"]]
        if not used:
            continue
        _draw_law(n_ax, used, "n_opt", family["n_opt_law"], "a", cmap(i % 10), family["family"])
        _draw_law(l_ax, used, "loss_opt", family["loss_law"], "b", cmap(i % 10), family["family"])
    none = "" if any(f["n_opt_law"] for f in result["families"]) else " (no power law: < 2 usable budgets)"
    for ax, what in ((n_ax, "N_opt (parameters)"), (l_ax, f"L_opt (final {result['metric']})")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        plain_log_ticks(ax)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: budget_text(v)))  # 1e16, as configs write it
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("compute budget C (training FLOPs)")
        ax.set_ylabel(what)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    n_ax.set_title(f"compute-optimal size: N_opt ~ C^a{none}", fontsize=10)
    l_ax.set_title("loss at the optimum: L_opt ~ C^b", fontsize=10)
    return save_figure(fig, path)
