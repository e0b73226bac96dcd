"""Analytic FLOPs of the encoder-only transformer (seqlab/models/encoder.py), in the
conventions of seqlab.analysis.flops: an (A×B)(B×C) matmul is 2·A·B·C FLOPs, only matmuls
count, backward = 2 × forward, FLOPs are for the whole batch.

Per layer and sequence of T tokens, width D, MLP width F (d_ff, default 4D):
    q, k, v projections 6TD²  +  scores and values 4T²D (all T×T: nothing is masked away)
    +  output projection 2TD²  +  MLP 4TDF                     (= 24TD² + 4T²D when F = 4D)
then one head: the masked-token head 2TDV, or the classification head 2DC on the pooled
vector. Unlike the decoder, the full T×T attention is needed, not just its causal half.
"""

from __future__ import annotations

from typing import Any


def encoder_flops(cfg: Any, vocab_size: int, seq_len: int, batch: int = 1, head: str = "mlm") -> dict[str, int]:
    """Forward FLOPs per component for `batch` sequences of `seq_len` tokens, plus forward,
    backward and training totals. `head`: `mlm` (masked-token logits at every position) or `classify`."""
    D, L, T, B = cfg.n_embd, cfg.n_layer, seq_len, batch
    F = cfg.d_ff if cfg.d_ff is not None else 4 * D
    rows = {
        "qkv": B * L * 6 * T * D * D,
        "attention": B * L * 4 * T * T * D,
        "out": B * L * 2 * T * D * D,
        "mlp": B * L * 4 * T * D * F,
        "head": B * (2 * T * D * vocab_size if head == "mlm" else 2 * D * cfg.num_classes),
    }
    forward = sum(rows.values())
    return {**rows, "forward": forward, "backward": 2 * forward, "training": 3 * forward}
