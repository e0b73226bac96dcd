"""One matplotlib set-up for every picture seqlab draws: files only, quiet, atomic writes.

Both the engine (loss.png) and the readers (compare, flops, attention, gates) draw
through here, so the backend, the logging level and the write-then-rename live once.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend (no display needed), without font-cache chatter."""
    import logging

    import matplotlib

    logging.getLogger("matplotlib").setLevel(logging.WARNING)
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def figure(rows: int = 1, cols: int = 1, size: tuple[float, float] = (7, 4.2), dpi: int = 110) -> tuple[Any, Any]:
    """(fig, axes) like plt.subplots."""
    return pyplot().subplots(rows, cols, figsize=size, dpi=dpi)


def save(fig: Any, path: Path | str, **savefig_kw: Any) -> Path:
    """Write `fig` to `path` through a temp file and a rename (a reader never sees half a PNG),
    then free it."""
    plt = pyplot()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{path.suffix or '.png'}")
    try:
        fig.tight_layout()
        fig.savefig(tmp, **savefig_kw)
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        tmp.unlink(missing_ok=True)
    return path
