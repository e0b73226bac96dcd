"""Training speed of one recurrent core: parallel scans against stepped recurrences (prints numbers).

One training step = forward + backward of a single layer mapping (B, T, H) inputs to (B, T, H)
outputs (no embedding, no head), batch 8, H 128 (a small model's layer: the regime where a
step's latency, not its arithmetic, sets the pace), at T = 64, 512 and 2048, for:
  * minGRU parallel: one Linear for both gates, then the chunked scan (seqlab's default);
  * minGRU sequential: the paper's sequential mode, the one-token step applied T times;
  * minGRU proj+loop: the Linear once, then a Python loop over h_t = a_t h_{t-1} + b_t
    (shows what the scan itself costs, apart from the per-token matmuls);
  * minGRU log-space: the Linear once, then Heinsen's logcumsumexp scan (the reference);
  * nn.GRU(H, H): torch's fused GRU;
  * scratch GRU: seqlab's ScratchRecurrent(gru_cell), the seed's cell stepped in Python;
  * mamba chunked: one Mamba-2 mixer with d_model H and expand 1 (inner width H, 8 heads of 32,
    d_state 16), SSD in chunks of 64 (it also has an output projection, which minGRU has not).
Rounds alternate the models; each figure is the median over `--repeats` rounds. `--batch` and
`--hidden` change the size: with more work per step the matmuls both forms share dominate on a
CPU, and the parallel form's gain over the sequential one shrinks.

    python benchmarks/bench_scan.py [--batch 8] [--hidden 128] [--threads 2] [--repeats 3]
                                    [--min-time 0.3] [--lengths 64 512 2048]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from torch import nn

from seqlab.models.mamba.model import Mamba2Mixer
from seqlab.models.mingru.model import MinGRU
from seqlab.models.mingru.scan import log_space_scan, sequential_scan
from seqlab.models.recurrent.gru import gru_cell
from seqlab.models.recurrent.shell import ScratchRecurrent

LENGTHS = (64, 512, 2048)
SKIP = {("scratch GRU", 2048): "~1 s per step, skipped", ("minGRU proj+loop", 2048): "skipped"}


def cores(H: int) -> dict[str, tuple[nn.Module, Callable[[nn.Module, torch.Tensor], torch.Tensor]]]:
    """name -> (module, forward returning the (B, T, H) outputs)."""
    parallel = MinGRU(H, H, "parallel")
    sequential = MinGRU(H, H, "sequential")
    sequential.load_state_dict(parallel.state_dict())

    def proj_loop(m: nn.Module, x: torch.Tensor) -> torch.Tensor:
        return sequential_scan(*m.coefficients(m.pre(x)))

    def log_space(m: nn.Module, x: torch.Tensor) -> torch.Tensor:
        return log_space_scan(*m.log_coefficients(m.pre(x)))

    first = lambda m, x: m(x)[0]
    return {
        "minGRU parallel": (parallel, first),
        "minGRU sequential": (sequential, first),
        "minGRU proj+loop": (parallel, proj_loop),
        "minGRU log-space": (parallel, log_space),
        "nn.GRU": (nn.GRU(H, H, batch_first=True), first),
        "scratch GRU": (ScratchRecurrent(gru_cell, 3, H, H), first),
        "mamba chunked": (Mamba2Mixer(H, expand=1, headdim=32, d_state=16, chunk_size=64), first),
    }


def steps_per_second(module: nn.Module, fwd: Callable, x: torch.Tensor, min_time: float) -> float:
    """Training steps (forward, backward of the mean output) per second over >= min_time."""
    steps, start = 0, time.perf_counter()
    while True:
        fwd(module, x).mean().backward()
        for p in module.parameters():
            p.grad = None
        steps += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_time:
            return steps / elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--hidden", type=int, default=128, help="H: input and state width (a multiple of 32)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--min-time", type=float, default=0.3, help="seconds per measurement")
    ap.add_argument("--lengths", type=int, nargs="+", default=list(LENGTHS), help="must include 512")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    B, H = args.batch, args.hidden
    models = cores(H)
    lengths = args.lengths
    inputs = {T: torch.randn(B, T, H) for T in lengths}
    runs: dict[tuple[str, int], list[float]] = {}
    for module, fwd in models.values():  # one warm-up step each
        fwd(module, inputs[lengths[0]]).mean().backward()
    for _ in range(args.repeats):
        for T in lengths:
            for name, (module, fwd) in models.items():
                if (name, T) not in SKIP:
                    runs.setdefault((name, T), []).append(steps_per_second(module, fwd, inputs[T], args.min_time))
    print(f"one training step of a (B={B}, T, H={H}) core, {args.threads} threads, "
          f"median of {args.repeats} rounds (steps/s, ms/step)")
    for T in lengths:
        for name in models:
            if (name, T) in SKIP:
                print(f"  T={T:<5} {name:<18} {SKIP[name, T]}")
                continue
            rate = statistics.median(runs[name, T])
            print(f"  T={T:<5} {name:<18} {rate:8.2f}/s {1000 / rate:9.1f} ms")
    speed = {name: statistics.median(runs[name, 512]) for name in ("minGRU parallel", "minGRU sequential", "nn.GRU")}
    a = speed["minGRU parallel"] / speed["minGRU sequential"]
    b = speed["minGRU parallel"] / speed["nn.GRU"]
    print(f"scan T=512: parallel/sequential {a:.2f}x, parallel/nn.GRU {b:.2f}x")


if __name__ == "__main__":
    main()
