"""What live tracking costs: the default run with and without logger=[tensorboard,mlflow].

Both arms train the same default GRU run (trainer.max_steps steps, a metrics record every
50 steps, evaluations every 500) in this one process, alternated, and the medians are
compared: training tokens/s (what summary.json reports: time inside the training steps)
and wall seconds of fit() (evaluations, samples, checkpoints and the trackers' own work at
start and end included), as the median of the ratios of back-to-back pairs; and the
share of fit() spent inside the tracker hooks, timed directly (the least noisy number).
MLflow writes to a sqlite store in a temporary folder. On a CPU shared with other work
single runs wobble by tens of percent: trust the hook share and the pair ratios.

    python benchmarks/bench_trackers.py [--steps 2000] [--repeats 3] [--threads 1]
Needs SEQLAB_TINYSTORIES (or task.source) pointing at TinyStories; `make bench` sets it.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from seqlab.config.compose import compose
from seqlab.engine.trainer import Trainer
from seqlab.tracking import Tracker


def time_hooks(trainer: Trainer) -> list[float]:
    """Wrap the trainer's tracker hooks so that the seconds spent inside them add up in [0]."""
    spent = [0.0]
    for tracker in [c for c in trainer.callbacks.callbacks if isinstance(c, Tracker)]:
        for hook in ("on_fit_start", "on_log", "on_eval", "on_fit_end"):
            def timed(*args, inner=getattr(tracker, hook)) -> None:
                start = time.perf_counter()
                inner(*args)
                spent[0] += time.perf_counter() - start
            setattr(tracker, hook, timed)
    return spent


def one_run(overrides: list[str], folder: Path) -> tuple[float, float, float]:
    """(training tokens/s, wall seconds of fit, seconds inside tracker hooks) of one run."""
    trainer = Trainer(compose(overrides), folder)
    spent = time_hooks(trainer)
    start = time.perf_counter()
    summary = trainer.fit()
    return summary["tokens_per_s"], time.perf_counter() - start, spent[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=2000, help="training steps per run (the default run: 2000)")
    parser.add_argument("--repeats", type=int, default=3, help="alternated repeats of each arm; medians are reported")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: torch's); 1 on a CPU that other work shares")
    args = parser.parse_args()
    base = [f"trainer.max_steps={args.steps}", "device=cpu"] + ([f"threads={args.threads}"] if args.threads else [])
    print(f"torch {torch.__version__}, {args.threads or torch.get_num_threads()} thread(s)")
    plain: list[tuple[float, float, float]] = []
    tracked: list[tuple[float, float, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        logged = base + ["logger=[tensorboard,mlflow]", f"logger.mlflow.tracking_uri=sqlite:///{tmp}/mlflow.db"]
        one_run(base + ["trainer.max_steps=10"], Path(tmp) / "warm-up")  # data cache, peak FLOP/s, imports
        for i in range(args.repeats):
            plain.append(one_run(base, Path(tmp) / f"plain-{i}"))
            tracked.append(one_run(logged, Path(tmp) / f"tracked-{i}"))
            print(f"  pair {i + 1}: logger=[] {plain[-1][0]:9,.0f} tok/s {plain[-1][1]:6.1f} s | "
                  f"logger=[tensorboard,mlflow] {tracked[-1][0]:9,.0f} tok/s {tracked[-1][1]:6.1f} s, "
                  f"{tracked[-1][2]:.2f} s in tracker hooks", flush=True)
    median = statistics.median
    tok_ratio = median(t[0] / p[0] for p, t in zip(plain, tracked))  # a pair ran back to back: same load
    wall_ratio = median(t[1] / p[1] for p, t in zip(plain, tracked))
    hooks = median(t[2] / t[1] for t in tracked)
    print(f"default GRU run, {args.steps} steps, {args.repeats} alternated pairs, medians:")
    print(f"  logger=[]                    {median(p[0] for p in plain):10,.0f} tok/s   fit {median(p[1] for p in plain):6.1f} s")
    print(f"  logger=[tensorboard,mlflow]  {median(t[0] for t in tracked):10,.0f} tok/s   fit {median(t[1] for t in tracked):6.1f} s")
    print(f"  overhead (median of pair ratios): tokens/s {100 * (1 - tok_ratio):+.1f}%   wall {100 * (wall_ratio - 1):+.1f}%")
    print(f"  time inside the tracker hooks: {100 * hooks:.2f}% of fit (median)")


if __name__ == "__main__":
    main()
