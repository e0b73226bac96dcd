"""Accuracy against input length: one line per run, from the last evaluation's `val_*@L` metrics
(synthetic tasks with `task.eval_lengths`), as in Bahdanau et al.'s Figure 2; each run's printed
line ends with its mean over the lengths above the longest trained one (Delétang et al.'s score
with --metric val_acc).

    python -m seqlab.analysis.length_curve SWEEP_DIR [--metric val_seq_acc] [--out PATH]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from seqlab.runs.reader import Run, differing_keys, find_runs, load_run, name_runs


def length_points(run: Run, metric: str) -> list[tuple[int, float]]:
    """(length, value) of `metric@L` in the run's last record that has any."""
    for record in reversed(run.records):
        points = sorted((int(k.split("@")[1]), v) for k, v in record.items() if k.startswith(f"{metric}@"))
        if points:
            return points
    return []


def unseen_mean(points: list[tuple[int, float]], trained_max: int | None) -> float | None:
    """The mean value over the lengths above `trained_max` (None: no such length, or no maximum)."""
    unseen = [v for L, v in points if trained_max is not None and L > trained_max]
    return sum(unseen) / len(unseen) if unseen else None


def plot_length_curves(runs: list[Run], metric: str, out: Path, trained_max: int | None = None) -> Path:
    """Draw `metric` against length for every run; a dotted line marks the longest trained length."""
    from seqlab.plots import new_figure, save_figure

    fig, ((ax,),) = new_figure(1, 1, (6.4, 4.0), dpi=100)
    for run in runs:
        points = length_points(run, metric)
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=run.name)
    if trained_max is not None:
        ax.axvline(trained_max, color="gray", linestyle=":", label=f"longest trained ({trained_max})")
    ax.set_xlabel("input length")
    ax.set_ylabel(metric)
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return save_figure(fig, out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Accuracy against input length for synthetic-task runs.")
    parser.add_argument("runs", nargs="+", help="run folders, a sweep folder or a quoted glob")
    parser.add_argument("--metric", default="val_seq_acc", help="val_seq_acc (exact) or val_acc (tokens)")
    parser.add_argument("--out", type=Path, default=Path("length_curve.png"), help="where the PNG goes")
    args = parser.parse_args(argv)
    paths, _ = find_runs(args.runs)
    runs = [load_run(p, lambda msg: print(f"warning: {msg}", file=sys.stderr)) for p in paths]
    if not runs:
        print("error: no run folders found", file=sys.stderr)
        return 2
    name_runs(runs, differing_keys([r.config for r in runs]))
    trained = runs[0].config.get("task.length")
    print(plot_length_curves(runs, args.metric, args.out, trained))
    for run in runs:
        points = length_points(run, args.metric)
        mean = unseen_mean(points, run.config.get("task.length"))
        print(run.name, " ".join(f"{L}:{v:.3f}" for L, v in points),
              "" if mean is None else f"| unseen mean {mean:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
