"""The progress line fits an 80-column terminal whole: counter, stats and ETA uncut."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from seqlab.engine.callbacks.progress import TrainProgress, format_stats


def rendered(width: int, total: int, step: int) -> str:
    buf = io.StringIO()
    console = Console(file=buf, width=width, force_terminal=False, color_system=None)
    progress = TrainProgress(total, console=console)
    progress.update(step, 1.23456, 1.34567, 131_521.0, 0.357)
    console.print(progress._progress.make_tasks_table(progress._progress.tasks))
    return buf.getvalue().rstrip("\n")


@pytest.mark.parametrize("width", [80, 120])
@pytest.mark.parametrize("total, step", [(2000, 500), (60000, 59999)])
def test_counter_stats_and_eta_are_whole(width, total, step):
    line = rendered(width, total, step)
    assert len(line.splitlines()) == 1 and len(line) <= width
    assert f"{step}/{total}" in line and "MFU 35.7%" in line and "val 1.3457" in line
    assert "…" not in line and ("━" in line or "╸" in line)  # the bar is still there


def test_compact_stats_fit_beside_a_bar():
    assert format_stats(1.2, 1.3, 131_521.0, 0.357, compact=True) == "loss 1.2000 val 1.3000 131.5k tok/s MFU 35.7%"
    assert "131,521 tok/s" in format_stats(1.2, None, 131_521.0, None)
