"""What a study found: its best trial and parameters, how many trials were pruned, and the
compute pruning saved (what the pruned trials would have spent on their remaining steps, at
the rate they trained) against running every trial to completion. Written to best.json."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from seqlab.runs.atomic import atomic_write_json
from seqlab.search import BEST
from seqlab.search.journal import StudySettings, TrialRecord


def best_trial(trials: list[TrialRecord], direction: str) -> TrialRecord | None:
    """The completed trial with the best value (pruned trials never win: they did not finish)."""
    done = [t for t in trials if t.state == "complete" and t.value is not None]
    pick = min if direction == "minimize" else max
    return pick(done, key=lambda t: t.value) if done else None


def compute_saved(trials: list[TrialRecord]) -> dict[str, Any]:
    """Training FLOPs and seconds the pruned trials did not spend, and what all trials spent."""
    spent_flops = sum(t.flops or 0.0 for t in trials)
    spent_s = sum(t.train_time_s or 0.0 for t in trials)
    saved_flops = saved_s = 0.0
    for t in trials:
        if t.state != "pruned" or not t.steps or not t.max_steps:
            continue
        left = max(t.max_steps - t.steps, 0) / t.steps  # the remaining steps, per step trained
        saved_flops += (t.flops or 0.0) * left
        saved_s += (t.train_time_s or 0.0) * left
    share = lambda saved, spent: saved / (saved + spent) if saved + spent > 0 else 0.0
    return {"flops_spent": spent_flops, "flops_saved": saved_flops, "flops_saved_share": share(saved_flops, spent_flops),
            "train_s_spent": spent_s, "train_s_saved": saved_s, "train_s_saved_share": share(saved_s, spent_s)}


def study_outcome(folder: Path, settings: StudySettings, trials: dict[int, TrialRecord]) -> dict[str, Any]:
    """best.json's content: the best trial, the counts, the compute saved."""
    finished = [t for t in trials.values() if t.state is not None]
    best = best_trial(finished, settings.direction)
    return {
        "metric": settings.metric, "direction": settings.direction,
        "best": None if best is None else {"trial": best.number, "folder": str(Path(folder) / best.folder),
                                           "value": best.value, "params": best.params},
        "trials": {state: sum(t.state == state for t in finished) for state in ("complete", "pruned", "failed")},
        "compute": compute_saved([t for t in finished if t.state != "failed"]),
    }


def write_outcome(folder: Path, report: dict[str, Any]) -> Path:
    path = Path(folder) / BEST
    atomic_write_json(path, report)
    return path


def outcome_lines(report: dict[str, Any]) -> list[str]:
    """The report as the terminal shows it."""
    counts, compute, best = report["trials"], report["compute"], report["best"]
    lines = [f"trials: {counts['complete']} completed, {counts['pruned']} pruned, {counts['failed']} failed"]
    if best is None:
        lines.append("best: none (no trial completed)")
    else:
        params = " ".join(f"{k}={v}" for k, v in best["params"].items())
        lines.append(f"best: trial {best['trial']}, {report['metric']} {best['value']:.4f}: {params}")
        lines.append(f"      {best['folder']}")
    if compute["flops_spent"]:
        lines.append(f"pruning saved {compute['flops_saved']:.3g} of {compute['flops_saved'] + compute['flops_spent']:.3g} "
                     f"training FLOPs ({compute['flops_saved_share']:.0%}) and about {compute['train_s_saved']:.1f} s "
                     f"of {compute['train_s_saved'] + compute['train_s_spent']:.1f} s of training "
                     f"({compute['train_s_saved_share']:.0%}) against running every trial to its end")
    else:
        lines.append(f"pruning saved about {compute['train_s_saved']:.1f} s of "
                     f"{compute['train_s_saved'] + compute['train_s_spent']:.1f} s of training "
                     f"({compute['train_s_saved_share']:.0%}) against running every trial to its end")
    return lines
