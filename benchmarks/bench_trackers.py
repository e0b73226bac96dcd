"""What live tracking costs: the default run with and without logger=[tensorboard,mlflow].

Both arms train the same default GRU run (trainer.max_steps steps, a metrics record every
50 steps, evaluations every 500) in this one process, alternated, and the medians are
compared: training tokens/s (what summary.json reports: time inside the training steps)
and wall seconds of fit() (evaluations, samples, checkpoints and the trackers' own work at
start and end included). MLflow writes to a sqlite store in a temporary folder. The
CPU may be shared with other work: alternating and taking medians keeps the comparison
fair, but single numbers still wobble.

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

from seqlab.engine.launch import compose
from seqlab.engine.trainer import Trainer


def one_run(overrides: list[str], folder: Path) -> tuple[float, float]:
    """(training tokens/s, wall seconds of fit) of one run into `folder`."""
    trainer = Trainer(compose(overrides), folder)
    start = time.perf_counter()
    summary = trainer.fit()
    return summary["tokens_per_s"], time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=2000, help="training steps per run (the default run: 2000)")
    parser.add_argument("--repeats", type=int, default=3, help="alternated repeats of each arm; medians are reported")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: torch's); 1 on a CPU that other work shares")
    args = parser.parse_args()
    base = [f"trainer.max_steps={args.steps}", "device=cpu"] + ([f"threads={args.threads}"] if args.threads else [])
    print(f"torch {torch.__version__}, {args.threads or torch.get_num_threads()} thread(s)")
    results: dict[str, list[tuple[float, float]]] = {"none": [], "tensorboard,mlflow": []}
    with tempfile.TemporaryDirectory() as tmp:
        tracked = base + ["logger=[tensorboard,mlflow]", f"logger.mlflow.tracking_uri=sqlite:///{tmp}/mlflow.db"]
        one_run(base + ["trainer.max_steps=10"], Path(tmp) / "warm-up")  # data cache, peak FLOP/s, imports
        for i in range(args.repeats):
            for name, overrides in (("none", base), ("tensorboard,mlflow", tracked)):
                results[name].append(one_run(overrides, Path(tmp) / f"{name}-{i}"))
                print(f"  repeat {i + 1} {name:>18}: {results[name][-1][0]:9,.0f} tok/s  "
                      f"{results[name][-1][1]:6.1f} s", flush=True)
    (tok0, wall0), (tok1, wall1) = [(statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs))
                                    for runs in results.values()]
    print(f"default GRU run, {args.steps} steps, median of {args.repeats} alternated runs per arm:")
    print(f"  logger=[]                    {tok0:10,.0f} tok/s   fit {wall0:6.1f} s")
    print(f"  logger=[tensorboard,mlflow]  {tok1:10,.0f} tok/s   fit {wall1:6.1f} s")
    print(f"  overhead: tokens/s {100 * (1 - tok1 / tok0):+.1f}%   wall time {100 * (wall1 / wall0 - 1):+.1f}%")


if __name__ == "__main__":
    main()
