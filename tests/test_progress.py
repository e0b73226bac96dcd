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


# --- no terminal: plain lines; lines with a path are never broken --------------------------------

def test_without_a_terminal_each_log_step_is_a_plain_line(monkeypatch):
    import seqlab.engine.callbacks.progress as progress_module

    console = Console(file=io.StringIO(), width=80, force_terminal=False)
    progress = TrainProgress(2000, console=console)
    assert progress.plain  # a file: no live line
    now = [100.0]
    monkeypatch.setattr(progress_module.time, "perf_counter", lambda: now[0])
    progress.start(0)
    now[0] = 130.0  # 200 steps in 30 s: 1800 more take 270 s
    line = progress.plain_line(200, 1.52341, 1.60119, 48_120.4, 0.031)
    assert line == "step 200/2000 | loss 1.5234 | val 1.6012 | 48,120 tok/s | MFU 3.1% | eta 4:30"
    assert TrainProgress(10, console=Console(file=io.StringIO(), force_terminal=True)).plain is False


def test_eta_counts_from_the_step_a_resumed_run_started_at(monkeypatch):
    import seqlab.engine.callbacks.progress as progress_module

    progress = TrainProgress(3000, console=Console(file=io.StringIO()))
    now = [0.0]
    monkeypatch.setattr(progress_module.time, "perf_counter", lambda: now[0])
    progress.start(1000)
    now[0] = 7200.0
    assert progress.eta(2000) == "2:00:00"  # 1000 steps took 2 h; 1000 are left


def test_the_resume_command_is_one_line_at_80_columns():
    from types import SimpleNamespace

    from seqlab.engine.callbacks.progress import ProgressDisplay

    buf = io.StringIO()
    progress = TrainProgress(10, console=Console(file=buf, width=80, force_terminal=False))
    folder = "/tmp/a-rather-long-folder-name-for-runs/outputs/2026-11-26/13-00-13_gru_tinystories"
    trainer = SimpleNamespace(progress=progress, print=progress.print, task=SimpleNamespace(headline="val_loss"),
                              run=SimpleNamespace(path=folder, checkpoints=f"{folder}/checkpoint"),
                              tcfg=SimpleNamespace(early_stop_patience=None))
    summary = {"status": "interrupted", "steps": 4, "final_val_loss": None, "final_val_bpc": None,
               "tokens_per_s": 1000.0, "wall_s": 1.0}
    ProgressDisplay().on_fit_end(trainer, summary)
    lines = buf.getvalue().splitlines()
    assert f"stopped at step 4; continue with: seqlab resume {folder}" in lines
    assert any(line.startswith("interrupted: 4 steps") and line.endswith(f"-> {folder}") for line in lines)
