"""Causal self-attention kernels on this CPU, forward + backward (prints numbers, asserts nothing).

Why the transformer takes the explicit matmul-softmax path under CPU bf16 autocast
(seqlab.models.transformer.prefer_explicit_attention): at the seed's shapes the flash
kernel behind scaled_dot_product_attention has a slow bf16 backward on CPU.

    python benchmarks/bench_attention.py [--batch 32] [--heads 4] [--seq 100] [--head-size 32]
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import torch
import torch.nn.functional as F

from seqlab.models.transformer.model import causal_bias


def timed(fn, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, repeats: int) -> tuple[float, float]:
    """Median (forward, backward) milliseconds of attention `fn`."""
    grad = torch.randn_like(q)
    fwd, bwd = [], []
    for i in range(repeats + 3):
        t0 = time.perf_counter()
        out = fn(q, k, v)
        t1 = time.perf_counter()
        out.backward(grad)
        if i >= 3:  # the first calls pay for allocation
            fwd.append(t1 - t0)
            bwd.append(time.perf_counter() - t1)
    return 1e3 * statistics.median(fwd), 1e3 * statistics.median(bwd)


def sdpa(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    return F.scaled_dot_product_attention(q, k, v, is_causal=True)


def explicit(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    T = q.size(-2)
    scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
    return F.softmax(scores + causal_bias(T, T, q.device).to(scores.dtype), dim=-1) @ v


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=32, help="sequences per batch")
    parser.add_argument("--heads", type=int, default=4, help="attention heads")
    parser.add_argument("--seq", type=int, default=100, help="sequence length T")
    parser.add_argument("--head-size", type=int, default=32, help="channels per head")
    parser.add_argument("--repeats", type=int, default=20, help="timed calls; medians are reported")
    args = parser.parse_args()
    shape = (args.batch, args.heads, args.seq, args.head_size)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, q/k/v {shape}, ms per layer (median)")
    print(f"{'dtype':<10}{'kernel':<10}{'forward':>9}{'backward':>10}{'total':>8}")
    for dtype in (torch.float32, torch.bfloat16):
        for name, fn in (("sdpa", sdpa), ("explicit", explicit)):
            q, k, v = (torch.randn(shape, dtype=dtype, requires_grad=True) for _ in range(3))
            f, b = timed(fn, q, k, v, args.repeats)
            print(f"{str(dtype).split('.')[1]:<10}{name:<10}{f:>9.2f}{b:>10.2f}{f + b:>8.2f}", flush=True)


if __name__ == "__main__":
    main()
