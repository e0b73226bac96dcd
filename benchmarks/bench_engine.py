"""Speed of the engine, measured side by side in one process (prints numbers, asserts nothing).

1. Engine overhead: `Trainer.fit` tokens/s vs a bare PyTorch loop (same GRU, same data,
   same batch size, Adam and clipping, no logging), alternated, median of repeats.
2. Fused (nn.GRU) vs scratch (seed equations stepped in Python) GRU: training tokens/s
   at seq_len 20 and 100.

    python benchmarks/bench_engine.py [--steps 300] [--repeats 3]
Needs SEQLAB_TINYSTORIES (or task.source) pointing at TinyStories; `make bench` sets it.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from seqlab.config.compose import compose
from seqlab.engine.step import train_step
from seqlab.engine.trainer import Trainer
from seqlab.registry import build_model, build_task


def engine_tokens_per_s(overrides: list[str]) -> float:
    cfg = compose(overrides)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(cfg, Path(tmp))
        trainer.run.enabled = False  # measure the loop, not the disk
        return trainer.fit()["tokens_per_s"]


def bare_tokens_per_s(data: torch.Tensor, vocab_size: int, steps: int, batch: int, seq_len: int) -> float:
    """The loop a person would write by hand: no config, no logging, no state."""
    torch.manual_seed(0)
    emb, rnn, head = nn.Embedding(vocab_size, 64), nn.GRU(64, 256, batch_first=True), nn.Linear(256, vocab_size)
    params = [*emb.parameters(), *rnn.parameters(), *head.parameters()]
    opt = torch.optim.Adam(params, lr=1e-3)
    offsets = torch.arange(seq_len + 1)
    gen = torch.Generator().manual_seed(0)
    start = time.perf_counter()
    for _ in range(steps):
        starts = torch.randint(0, len(data) - seq_len, (batch,), generator=gen)
        chunk = data[starts[:, None] + offsets].long()
        x, y = chunk[:, :-1], chunk[:, 1:]
        out, _ = rnn(emb(x))
        loss = nn.functional.cross_entropy(head(out).flatten(0, 1), y.flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
    return steps * batch * seq_len / (time.perf_counter() - start)


def impl_tokens_per_s(impl: str, seq_len: int, steps: int, task, batch: int = 32) -> float:
    cfg = compose([f"model.impl={impl}", f"task.seq_len={seq_len}"])
    torch.manual_seed(0)
    model = build_model(cfg.model, len(task.vocab))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    task.seq_len, task._offsets = seq_len, np.arange(seq_len + 1)
    gen = torch.Generator().manual_seed(0)
    train_step(model, task, task.train_batch(batch, gen), opt, 1.0)  # warm-up
    start = time.perf_counter()
    for _ in range(steps):
        train_step(model, task, task.train_batch(batch, gen), opt, 1.0)
    return steps * batch * seq_len / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=300, help="training steps per measurement")
    parser.add_argument("--repeats", type=int, default=3, help="alternated repeats; medians are reported")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")

    overrides = [f"trainer.max_steps={args.steps}", f"trainer.eval_every={args.steps}",
                 "trainer.eval_batches=1", "trainer.num_samples=0", "device=cpu"]
    task = build_task(compose(overrides).task)
    engine, bare = [], []
    for _ in range(args.repeats):
        engine.append(engine_tokens_per_s(overrides))
        bare.append(bare_tokens_per_s(torch.from_numpy(task.train_data[:].astype('int64')), len(task.vocab),
                                       args.steps, 32, 20))  # the task's ids live in a token file
    e, b = statistics.median(engine), statistics.median(bare)
    print(f"engine overhead (GRU 64/256, batch 32, seq 20, {args.steps} steps, median of {args.repeats}):")
    print(f"  seqlab train  {e:10,.0f} tok/s   bare loop  {b:10,.0f} tok/s   ratio {e / b:.3f}")

    print("fused vs scratch GRU (training tokens/s, batch 32):")
    for seq_len in (20, 100):
        steps = max(10, args.steps // (seq_len // 10))
        fused = statistics.median(impl_tokens_per_s("fused", seq_len, steps, task) for _ in range(args.repeats))
        scratch = statistics.median(impl_tokens_per_s("scratch", seq_len, steps, task) for _ in range(args.repeats))
        print(f"  seq {seq_len:>3}: fused {fused:10,.0f}   scratch {scratch:10,.0f}   fused/scratch {fused / scratch:.2f}x")


if __name__ == "__main__":
    main()
