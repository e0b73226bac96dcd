"""The GPU check: throughput, MFU and peak memory of seqlab's engine on one or more GPUs.

    python benchmarks/gpu_check.py [--steps 60] [--out gpu_check.json]

Prints one line per configuration (and writes them as JSON):
  1. transformer_8l and transformer_85m in bf16, without and with trainer.compile;
  2. the GRU, fused (cuDNN) vs scratch (the seed's equations stepped in Python);
  3. with more than one GPU: transformer_85m on 1 GPU vs trainer.devices=<all>.
Each is a real `seqlab train` run (the engine, callbacks and all) in a temp folder; numbers
come from its summary.json: tokens/s over the timed steps, MFU against the card's datasheet
peak, peak memory. Data: TinyStories when SEQLAB_TINYSTORIES is set, else the synthetic
`repeat` task (the same model FLOPs per token). Target: >= 45% MFU for transformer_85m in
bf16 on an H100. Budget: about 8 minutes on one GPU.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import torch


def run(name: str, overrides: list[str], steps: int) -> dict:
    """One `seqlab train` run; the numbers of its summary.json."""
    data = ([f"task.source={os.environ['SEQLAB_TINYSTORIES']}", "task.max_chars=20_000_000"]
            if os.environ.get("SEQLAB_TINYSTORIES") else ["task=repeat", "task.pattern=''", "task.period=8"])
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "seqlab", "train", *data, *overrides, "device=cuda",
               f"trainer.max_steps={steps}", f"trainer.eval_every={steps}", "trainer.eval_batches=2",
               "trainer.num_samples=0", f"hydra.run.dir={tmp}/run"]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode:
            return {"name": name, "error": done.stderr.strip().splitlines()[-1:]}
        s = json.loads((Path(tmp) / "run" / "summary.json").read_text())
    return {"name": name, "tokens_per_s": s["tokens_per_s"], "mfu": s["mfu"],
            "peak_memory_gb": (s["peak_memory_bytes"] or 0) / 2**30, "world_size": s["world_size"]}


def configurations(steps: int) -> list[tuple[str, list[str], int]]:
    big = ["+experiment=gpu_transformer_85m", "trainer.warmup_steps=10"]
    small = ["model=transformer_8l", "task.seq_len=100", "trainer.precision=bf16", "trainer.batch_size=64"]
    gru = ["model=gru", "task.seq_len=100", "trainer.batch_size=64"]
    out = [("transformer_8l bf16", small, steps), ("transformer_8l bf16 compile", [*small, "trainer.compile=true"], steps),
           ("transformer_85m bf16", big, steps), ("transformer_85m bf16 compile", [*big, "trainer.compile=true"], steps),
           ("gru fused", [*gru, "model.impl=fused"], steps), ("gru scratch", [*gru, "model.impl=scratch"], steps // 3)]
    if torch.cuda.device_count() > 1:
        out.append((f"transformer_85m bf16 x{torch.cuda.device_count()} GPUs",
                    [*big, f"trainer.devices={torch.cuda.device_count()}"], steps))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60, help="training steps per configuration")
    parser.add_argument("--out", type=Path, default=Path("gpu_check.json"), help="where the JSON results go")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        sys.exit("gpu_check needs a CUDA device")
    print(f"device: {torch.cuda.get_device_name(0)} x{torch.cuda.device_count()}, torch {torch.__version__}")
    results = []
    for name, overrides, steps in configurations(args.steps):
        r = run(name, overrides, steps)
        results.append(r)
        if "error" in r:
            print(f"{name:<36} failed: {r['error']}")
        else:
            print(f"{name:<36} {r['tokens_per_s']:>12,.0f} tok/s   MFU {100 * (r['mfu'] or 0):5.1f}%   "
                  f"peak {r['peak_memory_gb']:6.2f} GiB")
    args.out.write_text(json.dumps({"device": torch.cuda.get_device_name(0), "results": results}, indent=2))


if __name__ == "__main__":
    main()
