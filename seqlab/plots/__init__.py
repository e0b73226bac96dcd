"""The one matplotlib set-up every seqlab figure goes through.

Figures are files only (the Agg backend: no display needed, works over ssh and in
workers), matplotlib's font-cache chatter stays out of train.log, and a PNG is written
through a temporary name so a reader (a browser refreshing loss.png mid-run) never sees
half a file. Imported lazily by the plotting functions: `seqlab --help` never loads it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any


def new_figure(rows: int, cols: int, size: tuple[float, float], dpi: int = 110, layout: str | None = None,
               **kwargs: Any):
    """(figure, 2-D array of axes) for a rows x cols grid of `size` inches, drawn by Agg; `layout`
    is matplotlib's (e.g. "constrained"), `kwargs` go to `Figure.subplots`.

    A bare `Figure` (not pyplot): no backend machinery to import and no global figure list
    to leak into, so the first picture of a run costs a second less."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    logging.getLogger("matplotlib").setLevel(logging.WARNING)
    matplotlib.use("Agg")
    fig = Figure(figsize=size, dpi=dpi, layout=layout)
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False, **kwargs)
    return fig, axes


def save_figure(fig: Any, path: Path, tight: bool = True, **savefig: Any) -> Path:
    """Write the PNG atomically (temporary name, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if tight and fig.get_layout_engine() is None:
        fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, format="png", **savefig)
    tmp.replace(path)
    return path


def analysis_path(name: str) -> Path:
    """Default path of an analysis figure: outputs/analysis/NAME under SEQLAB_OUTPUTS."""
    import os

    return Path(os.environ.get("SEQLAB_OUTPUTS", "outputs")) / "analysis" / name


def plain_number(value: float) -> str:
    """A tick label anyone reads: 4, 0.5, 2.5, 300, 20k, 1.5M, 3G (never 4×10⁰)."""
    for scale, unit in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e4, "k")):
        if abs(value) >= scale:
            scale = 1e3 if unit == "k" else scale
            return f"{value / scale:.3g}{unit}"
    return f"{value:.4g}" if abs(value) >= 1 else f"{value:.3g}"


def plain_log_ticks(ax: Any) -> None:
    """Plain numbers on an axes' logarithmic axes, where matplotlib would write 4×10⁰; which
    ticks get a label stays matplotlib's choice (minor ones only on a short range)."""
    from matplotlib.ticker import LogFormatter

    class Plain(LogFormatter):
        def __call__(self, x: float, pos: int | None = None) -> str:
            return plain_number(x) if super().__call__(x, pos) else ""

    for axis in (ax.xaxis, ax.yaxis):
        if axis.get_scale() == "log":
            axis.set_major_formatter(Plain())
            axis.set_minor_formatter(Plain(labelOnlyBase=False, minor_thresholds=(1, 0.4)))
