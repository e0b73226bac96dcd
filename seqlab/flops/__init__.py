"""Analytic FLOPs and sequential matmuls of seqlab's models, checked against PyTorch's counter.

Each family's FLOP model is named on its registry spec (ModelSpec.flops); the engine
(flops.json, MFU), `seqlab flops` and reproduce's scheduler all come through here, so a
family that declares one gets all three and one that does not is named plainly.
No torch import unless something is measured.
"""

from __future__ import annotations

from typing import Any

from seqlab.errors import SeqlabError
from seqlab.flops.report import CONVENTIONS, FlopReport, Row

__all__ = ["CONVENTIONS", "FlopReport", "Row", "flop_families", "flops_json", "flops_per_token",
           "flops_report"]


def flop_families() -> list[str]:
    """Families that declare a FLOP model."""
    from seqlab.registry import MODELS

    return [name for name, spec in MODELS.items() if spec.flops is not None]


def flops_report(model_cfg: Any, vocab_size: int, seq_len: int, batch: int = 1,
                 h0_grad: bool = False) -> FlopReport:
    """Analytic FLOPs for B sequences of T tokens. `h0_grad`: the initial RNN state needs a gradient
    (the seed's count; seqlab starts every window from a zero state, so it does not)."""
    from seqlab.registry import load, model_spec

    if seq_len < 1 or batch < 1 or vocab_size < 1:
        raise SeqlabError(f"seq_len, batch and vocab_size must be positive, got {seq_len}, {batch}, {vocab_size}")
    spec = model_spec(model_cfg.name)
    if spec.flops is None:
        raise SeqlabError(f"no FLOP model for model '{model_cfg.name}'; families with one: "
                          f"{', '.join(flop_families())}")
    return load(spec.flops.report)(model_cfg, vocab_size, seq_len, batch, h0_grad)


def flops_per_token(model_cfg: Any, vocab_size: int, seq_len: int) -> dict[str, float]:
    """Analytic FLOPs per token of a length-T window: forward, backward, training (= both),
    generate. Attention is counted as computed (full T×T), averaged over the T tokens."""
    total = flops_report(model_cfg, vocab_size, seq_len).total
    per = {k: getattr(total, k) / seq_len for k in ("forward", "backward", "training", "generate")}
    return {**per, "seq_len": seq_len, "params": total.params}


def flops_json(model_cfg: Any, vocab_size: int, seq_len: int, batch_size: int) -> dict[str, Any]:
    """What a training run writes to flops.json: per token and per optimiser step (tokens: the
    task's tokens, characters for the char-level tasks)."""
    report = flops_report(model_cfg, vocab_size, seq_len, batch_size)
    total = report.total
    return {"seq_len": seq_len, "batch_size": batch_size, "tokens_per_step": seq_len * batch_size,
            "per_token": flops_per_token(model_cfg, vocab_size, seq_len),
            "per_step": {"forward": total.forward, "backward": total.backward, "training": total.training},
            "conventions": CONVENTIONS, "report": report.to_dict()}
