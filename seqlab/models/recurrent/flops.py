"""FLOP model of the recurrent language models: embedding -> L stacked cells -> head.

A cell has g H-wide weight blocks (Elman 1, GRU 3, LSTM 4), each an input matmul and a
recurrent matmul per step; the seed's answers (4TLD² to generate, 8TLD² backward) are
the g = 1, E = H = D case.
"""

from __future__ import annotations

from typing import Any

from seqlab.models.flop_table import FlopReport, Row, n


def rnn_flops(cfg: Any, V: int, T: int, B: int = 1, h0_grad: bool = False) -> FlopReport:
    """Elman RNN: one weight block per cell."""
    return _recurrent(cfg, V, T, B, h0_grad, 1)


def gru_flops(cfg: Any, V: int, T: int, B: int = 1, h0_grad: bool = False) -> FlopReport:
    """GRU: reset, update and candidate blocks."""
    return _recurrent(cfg, V, T, B, h0_grad, 3)


def lstm_flops(cfg: Any, V: int, T: int, B: int = 1, h0_grad: bool = False) -> FlopReport:
    """LSTM: input, forget, cell and output blocks."""
    return _recurrent(cfg, V, T, B, h0_grad, 4)


def _recurrent(cfg: Any, V: int, T: int, B: int, h0_grad: bool, g: int) -> FlopReport:
    name, E, H, L = cfg.name, cfg.embed_size, cfg.hidden_size, cfg.num_layers
    widths = [E] + [H] * (L - 1)  # layer 0 reads the embedding, later layers the hidden state
    fwd = T * sum(2 * g * (d * H + H * H) for d in widths)
    grad_w = fwd  # dW_ih, dW_hh: one matmul each, as big as the forward ones
    grad_x = T * sum(2 * g * d * H for d in widths)  # to the layer below / the embedding
    # BPTT to h_{t-1}: h_0 is a constant zero state, so nothing flows into it (T-1 steps)
    steps = T if h0_grad else T - 1
    grad_h = steps * L * 2 * g * H * H
    bias = 2 * g * H * L if cfg.bias else 0
    rows = [
        Row("embedding", "embedding", params=V * E),
        Row(f"recurrence ({name.upper()} ×{L})",
            "recurrence", params=sum(g * H * (d + H) for d in widths) + bias, forward=B * fwd,
            backward=B * (grad_w + grad_x + grad_h), generate=B * fwd,
            seq_forward=T * L, seq_backward=T * L, seq_generate=T * L),
        Row("vocab head (H→V)", "head", params=H * V + V, forward=B * 2 * T * H * V,
            backward=B * 4 * T * H * V, generate=B * 2 * T * H * V,
            seq_forward=1, seq_backward=1, seq_generate=T),  # generating: every token waits for its head
    ]
    D = H
    seed = {"generate": 4 * g * T * L * D * D, "backward": 8 * g * T * L * D * D}
    gx = f"{g}×" if g > 1 else ""
    formulas = [
        f"recurrence forward = generate = 2g·T·Σ_layers(D_in·H + H²), g = {g}, D_in = E = {E} for layer 0, H = {H} above"
        f" → {n(fwd)} per sequence",
        f"recurrence backward = weight grads {n(grad_w)} + input grads {n(grad_x)} + hidden-state grads {n(grad_h)}"
        f" = {n(grad_w + grad_x + grad_h)} per sequence",
        f"seed, per sequence (E = H = D, head excluded): generate {gx}4TLD² = {n(seed['generate'])}; the seed's \"{gx}8TLD² to train\""
        f" = {n(seed['backward'])} is the backward pass alone (weights 4 + inputs 2 + hidden states 2);"
        f" training = forward + backward = {gx}12TLD² = {n(seed['generate'] + seed['backward'])}",
        f"sequential matmuls: forward TL = {T * L} (+1 head), training 2TL = {2 * T * L} (+2), "
        f"generate TL = {T * L} (+T heads: each token is sampled before the next step)",
    ]
    notes = []
    if E != H:
        notes.append(f"E = {E} ≠ H = {H}: layer 0 costs 2g·T·(E·H + H²); the seed's D² formulas assume E = H")
    if not h0_grad:
        notes.append(f"hidden-state grads count T−1 steps: h_0 = 0 gets no gradient, {n(B * L * 2 * g * H * H)} "
                     f"less than the seed's 2TLD²-per-gate count (the counter agrees)")
    return FlopReport(name, T, B, V, {"gates": g, "embed": E, "hidden": H, "layers": L}, rows, formulas, notes)
