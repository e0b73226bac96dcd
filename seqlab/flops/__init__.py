"""Analytic FLOPs and sequential matmuls of seqlab's models, checked against PyTorch's counter.

Each family's FLOP model is named on its registry spec (ModelSpec.flops); the engine
(flops.json, MFU), `seqlab flops` and reproduce's scheduler all come through here, so a
family that declares one gets all three and one that does not is named plainly.
No torch import unless something is measured.
"""

from __future__ import annotations

from typing import Any

from seqlab.errors import SeqlabError
from seqlab.models.flop_table import CONVENTIONS, FlopReport, Row

__all__ = ["CONVENTIONS", "FlopReport", "Row", "flop_families", "flops_json", "flops_per_token",
           "flops_report"]


def flop_families() -> list[str]:
    """Families that declare a FLOP model."""
    from seqlab.registry import MODELS

    return [name for name, spec in MODELS.items() if spec.flops is not None]


def flops_report(model_cfg: Any, vocab_size: int, seq_len: int, batch: int = 1,
                 h0_grad: bool = False, target_len: int | None = None) -> FlopReport:
    """Analytic FLOPs for B sequences of T tokens. `h0_grad`: the initial RNN state needs a gradient
    (the seed's count; seqlab starts every window from a zero state, so it does not). For an
    encoder-decoder, `seq_len` is the source length and `target_len` the decoder's (default: the same)."""
    from seqlab.registry import load, model_spec

    if seq_len < 1 or batch < 1 or vocab_size < 1 or (target_len is not None and target_len < 1):
        raise SeqlabError(f"seq_len, target_len, batch and vocab_size must be positive, got {seq_len}, "
                          f"{target_len}, {batch}, {vocab_size}")
    spec = model_spec(model_cfg.name)
    if spec.flops is None:
        raise SeqlabError(f"no FLOP model for model '{model_cfg.name}'; families with one: "
                          f"{', '.join(flop_families())}")
    report = load(spec.flops.report)
    if spec.flops.pairs:
        return report(model_cfg, vocab_size, seq_len, batch, h0_grad, target_len=target_len)
    if target_len is not None:
        raise SeqlabError(f"model '{model_cfg.name}' reads one sequence: a target length is for encoder-decoders")
    return report(model_cfg, vocab_size, seq_len, batch, h0_grad)


def flops_per_token(model_cfg: Any, vocab_size: int, seq_len: int, target_len: int | None = None
                    ) -> dict[str, float]:
    """Analytic FLOPs per token of a length-T window (an encoder-decoder: per source and decoder
    token of a pair): forward, backward, training (= both), generate. Attention is counted as
    computed (full T×T), averaged over the tokens."""
    return _per_token(flops_report(model_cfg, vocab_size, seq_len, target_len=target_len))


def _per_token(report: FlopReport) -> dict[str, float]:
    """The report's totals per token: every FLOP count grows linearly with the batch."""
    total, tokens = report.total, report.tokens * report.batch
    per = {k: getattr(total, k) / tokens for k in ("forward", "backward", "training", "generate")}
    return {**per, "seq_len": report.seq_len, **({"target_len": report.target_len} if report.target_len else {}),
            "params": total.params}


def flops_json(model_cfg: Any, vocab_size: int, seq_len: int, batch_size: int,
               target_len: int | None = None) -> dict[str, Any]:
    """What a training run writes to flops.json: per token and per optimiser step (tokens: the
    task's tokens, characters for the char-level tasks; source + decoder tokens for a pair)."""
    report = flops_report(model_cfg, vocab_size, seq_len, batch_size, target_len=target_len)
    total = report.total
    return {"seq_len": seq_len, "batch_size": batch_size, "tokens_per_step": report.tokens * batch_size,
            "per_token": _per_token(report),
            "per_step": {"forward": total.forward, "backward": total.backward, "training": total.training},
            "conventions": CONVENTIONS, "report": report.to_dict()}
