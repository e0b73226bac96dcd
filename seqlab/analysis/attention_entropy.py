"""How peaked a trained transformer's attention is: the mean entropy (nats) of its attention
rows on fixed validation windows, per layer and head, next to the entropy of uniform
attention over the same keys (a row that sees k keys can have at most ln k).

    python -m seqlab.analysis.attention_entropy RUN_DIR... [--windows 64]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch


def row_entropy(maps: list[torch.Tensor]) -> torch.Tensor:
    """(layers, heads) mean entropy over batch and query positions of per-layer (B, nh, T, S) weights."""
    out = []
    for att in maps:
        p = att.float().clamp_min(1e-12)
        out.append(-(att.float() * p.log()).sum(-1).mean(dim=(0, 2)))  # (nh,)
    return torch.stack(out)


def uniform_entropy(T: int, causal: bool) -> float:
    """The same mean for uniform weights over the keys each query sees (i + 1 of them if causal)."""
    visible = torch.arange(1, T + 1, dtype=torch.float32) if causal else torch.full((T,), float(T))
    return visible.log().mean().item()


def run_entropy(run_dir: Path, windows: int) -> tuple[torch.Tensor, float]:
    """Entropies of the run's best checkpoint on `windows` evenly spaced validation windows."""
    from omegaconf import OmegaConf

    from seqlab.registry import build_task
    from seqlab.runs.checkpoint import load_checkpoint

    ckpt = load_checkpoint(run_dir, "best")
    task = build_task(OmegaConf.create(ckpt.meta["config"]["task"]))
    batch = next(task.eval_batches(windows, 1))
    ckpt.model.eval()
    maps = ckpt.model.attention_maps(batch.inputs)
    causal = ckpt.meta["config"]["model"].get("causal", True)
    return row_entropy(maps), uniform_entropy(batch.inputs.size(1), causal)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Mean attention entropy of transformer runs.")
    parser.add_argument("runs", nargs="+", type=Path, help="run folders (decoder-only transformers on tinystories)")
    parser.add_argument("--windows", type=int, default=64, help="validation windows to average over")
    args = parser.parse_args(argv)
    for run in args.runs:
        ent, uniform = run_entropy(run, args.windows)
        heads = " ".join(f"{v:.2f}" for v in ent.flatten().tolist())
        print(f"{run}: mean {ent.mean():.3f} nats (heads {heads}); uniform attention {uniform:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
