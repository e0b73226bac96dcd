"""What data parallelism costs on this CPU: one run as 1 process x 2 threads vs 2 processes x
1 thread (trainer.devices=2, gloo), same per-process batch, so DDP steps see twice the data.

    python benchmarks/bench_ddp.py [--steps 300] [--repeats 3]

Prints tokens/s (all ranks' tokens over the training time) of each, median of repeats,
alternated. On 2 cores expect no gain: the point is that it runs, and what the gradient
all-reduce and the second process cost. Needs SEQLAB_TINYSTORIES (`make bench` sets it).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

BASE = ["trainer.eval_every=100000", "trainer.num_samples=0", "trainer.eval_batches=1", "device=cpu"]


def tokens_per_s(overrides: list[str], steps: int, omp_threads: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "OMP_NUM_THREADS": str(omp_threads)}
        subprocess.run([sys.executable, "-m", "seqlab", "train", *BASE, *overrides, f"trainer.max_steps={steps}",
                        f"hydra.run.dir={tmp}/run"], env=env, check=True, capture_output=True)
        return json.loads((Path(tmp) / "run" / "summary.json").read_text())["tokens_per_s"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="training steps per run")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each setting (median reported)")
    args = parser.parse_args()
    one, two = [], []
    for _ in range(args.repeats):
        one.append(tokens_per_s(["threads=2"], args.steps, 2))
        two.append(tokens_per_s(["threads=1", "trainer.devices=2"], args.steps, 1))
    a, b = statistics.median(one), statistics.median(two)
    print(f"default GRU, batch 32 per process, {args.steps} steps, median of {args.repeats}:")
    print(f"  1 process  x 2 threads   {a:>10,.0f} tok/s")
    print(f"  2 processes x 1 thread   {b:>10,.0f} tok/s   ratio {b / a:.2f}")


if __name__ == "__main__":
    main()
