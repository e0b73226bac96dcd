"""Analytic FLOPs of the encoder-only transformer (seqlab/models/encoder/model.py), in the
conventions of seqlab/models/flop_table.py: an (A×B)(B×C) matmul is 2·A·B·C FLOPs, only matmuls
count, backward = 2 × forward, FLOPs are for the whole batch.

Per layer and sequence of T tokens, width D, MLP width F (d_ff, default 4D):
    q, k, v projections 6TD²  +  scores and values 4T²D (all T×T: nothing is masked away)
    +  output projection 2TD²  +  MLP 4TDF                     (= 24TD² + 4T²D when F = 4D)
then one head: the masked-token head 2TDV, or the classification head 2DC on the pooled
vector. Unlike the decoder, the full T×T attention is needed, not just its causal half.
"""

from __future__ import annotations

from typing import Any

from seqlab.models.flop_table import FlopReport, Row, n


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


def encoder_flops_report(cfg: Any, V: int, T: int, B: int = 1, h0_grad: bool = False) -> FlopReport:
    """The encoder's FLOP table for `seqlab flops`, flops.json and MFU (masked-token head)."""
    D, L, C = cfg.n_embd, cfg.n_layer, cfg.num_classes
    F = cfg.d_ff if cfg.d_ff is not None else 4 * D
    ab, mb = bool(cfg.attn_bias), bool(cfg.bias)
    f = encoder_flops(cfg, V, T, B, "mlm")
    names = {"qkv": "attn qkv projection", "attention": "attn QKᵀ + AV (full T×T: bidirectional)",
             "out": "attn out projection", "mlp": f"MLP (D→{F}→D)",
             "head": f"masked-token head (D→V, {'tied' if cfg.tie_head else 'its own'})"}
    params = {"qkv": L * (3 * D * D + 3 * D * ab), "attention": 0, "out": L * (D * D + D * ab),
              "mlp": L * (2 * D * F + (F + D) * mb), "head": 0 if cfg.tie_head else V * D}
    seq = {"qkv": L, "attention": 2 * L, "out": L, "mlp": 2 * L, "head": 1}
    pos = D * cfg.block_size if cfg.pos_encoding == "learned" else 0
    rows = [Row(f"embedding (token{' + pos' if pos else ''})", "embedding", params=V * D + pos)]
    rows += [Row(names[k], k, params=params[k], forward=f[k], backward=2 * f[k], seq_forward=seq[k],
                 seq_backward=seq[k]) for k in names]
    rows.append(Row("LayerNorms", "norms", params=(2 * L + 1) * D * (1 + mb)))
    if C:  # built for fine-tuning; the masked-token count does not run it
        rows.append(Row(f"classification head (D→{C}, not run here)", "cls_head", params=D * C + C))
    formulas = [f"per layer: qkv 6TD² + scores/values 4T²D (every query sees every key) + out 2TD² + "
                f"MLP 4TDF = {n(f['forward'] - f['head'])} for B = {B}; backward twice the forward"]
    dims = {"layers": L, "n_embd": D, "n_head": cfg.n_head, "d_ff": F}
    return FlopReport("encoder", T, B, V, dims, rows, formulas, ["generate: none (an encoder reads, it does not decode)"])
