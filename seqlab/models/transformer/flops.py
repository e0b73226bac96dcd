"""FLOP model of the decoder-only transformer: the seed's 24LTD² + 4LT²D forward, per component.

Only matmuls count (flop_table.CONVENTIONS): the Llama switches' RoPE rotation, RMSNorm and
SwiGLU's gating product are elementwise, left out like LayerNorm and GELU; SwiGLU's third
matrix is a matmul and counts.
"""

from __future__ import annotations

from typing import Any

from seqlab.models.flop_table import FlopReport, Row, n


def transformer_flops(cfg: Any, V: int, T: int, B: int = 1, h0_grad: bool = False) -> FlopReport:
    """Decoder-only transformer; `h0_grad` has no meaning here (no initial state)."""
    D, L = cfg.n_embd, cfg.n_layer
    ab, mb = bool(cfg.attn_bias), bool(cfg.bias)
    pos = D * cfg.block_size if cfg.pos_encoding == "learned" else 0
    computed, needed = 4 * T * T * D * L, 2 * T * (T + 1) * D * L  # full T×T vs the causal triangle
    F = cfg.get("d_ff") or 4 * D  # MLP width (model.d_ff; the seed's 4D by default)
    mats = 3 if cfg.get("activation") == "swiglu" else 2  # SwiGLU: W1, W3 (D→F) and W2 (F→D)
    rms = cfg.get("norm_layer", "layernorm") == "rmsnorm"  # RMSNorm: a gain, never a bias
    tied = cfg.get("tie_head", True)
    if not cfg.get("causal", True):
        needed = computed  # bidirectional: every query needs every key
    rows = [
        Row(f"embedding (token{' + pos' if pos else ''})", "embedding", params=V * D + pos),
        Row("attn qkv projection", "qkv", params=L * (3 * D * D + 3 * D * ab), forward=B * 6 * T * D * D * L,
            backward=B * 12 * T * D * D * L, generate=B * 6 * T * D * D * L, seq_forward=L, seq_backward=L,
            seq_generate=T * L),
        Row("attn QKᵀ + AV (computed, T×T)", "attention", forward=B * computed,
            backward=B * 2 * computed, generate=B * needed, seq_forward=2 * L, seq_backward=2 * L,
            seq_generate=2 * T * L),
        Row("attn out projection", "out", params=L * (D * D + D * ab), forward=B * 2 * T * D * D * L,
            backward=B * 4 * T * D * D * L, generate=B * 2 * T * D * D * L, seq_forward=L, seq_backward=L,
            seq_generate=T * L),
        Row(f"{'SwiGLU ' if mats == 3 else ''}MLP (D→{'4D' if F == 4 * D else F}→D)", "mlp",
            params=L * (mats * D * F + ((mats - 1) * F + D) * mb), forward=B * 2 * mats * T * D * F * L,
            backward=B * 4 * mats * T * D * F * L, generate=B * 2 * mats * T * D * F * L,
            seq_forward=2 * L, seq_backward=2 * L, seq_generate=2 * T * L),  # W1 and W3 side by side
        Row("RMSNorms" if rms else "LayerNorms", "norms", params=(2 * L + 1) * D * (1 if rms else 1 + mb)),
        Row(f"vocab head ({'tied' if tied else 'its own V×D'})", "head", params=0 if tied else V * D,
            forward=B * 2 * T * D * V, backward=B * 4 * T * D * V,
            generate=B * 2 * T * D * V, seq_forward=1, seq_backward=1, seq_generate=T),
        Row("  QKᵀ + AV needed (causal ◺)", "needed", forward=B * needed,
            backward=B * 2 * needed, generate=B * needed, in_total=False),
    ]
    dense, quad = 24 * L * T * D * D, 4 * L * T * T * D
    formulas = [
        f"seed, per sequence (head and norms excluded): forward 24LTD² + 4LT²D = {n(dense)} + {n(quad)} = {n(dense + quad)}"
        f" (qkv 6 + out 2 + MLP 16 = 24; scores 2 + values 2 = 4)",
        f"backward twice the forward: 48LTD² + 8LT²D = {n(2 * (dense + quad))}; training = forward + backward"
        f" = 72LTD² + 12LT²D = {n(3 * (dense + quad))}",
        f"causal attention: computed 4LT²D = {n(quad)} (sdpa and manual both compute the full T×T scores);"
        f" needed 2LT(T+1)D = {n(needed)} ({needed / quad:.0%}: query i sees i keys; the ◺ row, not in the total)",
        f"generate with a KV cache: 24LTD² + 2LT(T+1)D = {n(dense + needed)} (step t reads t cached keys)",
        f"sequential matmuls: forward 6L = {6 * L} (qkv, scores, values, out, mlp1, mlp2; +1 head), "
        f"training 12L = {12 * L} (+2), generate 6LT = {6 * L * T} (+T heads)",
    ]
    if mats == 3:
        formulas.append(f"SwiGLU MLP W2(silu(W1 x) ⊙ W3 x): three D×F matmuls, forward 6LTDF = "
                        f"{n(6 * L * T * D * F)} at F = {F} (the GELU MLP's 16LTD² at F = 8D/3)")
    notes = [] if T <= cfg.block_size else [
        f"T = {T} exceeds block_size = {cfg.block_size}: the formulas assume one window of T tokens"]
    elementwise = [w for w, on in (("RoPE", cfg.pos_encoding == "rope"), ("RMSNorm", rms),
                                   ("the SwiGLU gate product", mats == 3)) if on]
    if elementwise:
        notes.append(f"{', '.join(elementwise)}: elementwise, not counted (only matmuls are)")
    dims = {"layers": L, "n_embd": D, "n_head": cfg.n_head, "block_size": cfg.block_size}
    return FlopReport("transformer", T, B, V, dims, rows, formulas, notes)
