"""`seqlab gates`: the seed's two-unit GRU, one setting or the grid of all four exercises."""

from __future__ import annotations

from pathlib import Path

from seqlab.errors import SeqlabError


def gates_command(preset: str | None, grid: bool, values: dict[str, float | None], out: Path | None) -> Path:
    """Draw the gates, print their values as a table; returns the PNG's path."""
    from rich.console import Console

    from seqlab.analysis import gates as g
    from seqlab.plots import analysis_path

    if grid:
        if preset or any(v is not None for v in values.values()):
            raise SeqlabError("--grid draws the four presets as they are; drop --preset and the value options")
        path, rows = g.plot_grid(out or analysis_path("gates_grid.png"))
    else:
        settings = g.settings_for(preset, **values)
        name = preset or "custom"
        path = g.plot_gates(settings, out or analysis_path(f"gates_{name}.png"),
                            g.PRESETS[preset].summary if preset else "")
        rows = [(name, g.gate_values(settings))]
    Console().print(g.values_table(rows))
    print(f"wrote {path}")
    return path
