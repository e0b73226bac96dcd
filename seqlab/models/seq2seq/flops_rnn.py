"""FLOP model of the RNN encoder-decoder (seqlab/models/seq2seq.py), in the conventions of
seqlab/models/flop_table.py, for B pairs of an S-token source and a T-token decoder input.

A cell has g H-wide weight blocks (Elman 1, GRU 3, LSTM 4); the encoder has `dirs` directions
(2 for a Bi-RNN) whose annotations h_j are W = dirs·H wide. Per pair, forward:
    encoder     S · Σ_layers dirs · 2g(D_in·H + H²)      D_in = E, then W above layer 0
    bridge      L · 2WH  (twice for an LSTM: h and c)      encoder final state -> decoder's initial one
    attention   bahdanau: keys 2SWA once, then per step query 2HA + scores 2SA + context 2SW
                dot:      keys 2SWH once if W ≠ H, then per step scores 2SH + context 2SW
                none:     nothing (the decoder reads the encoder's final state every step)
    decoder     T · Σ_layers 2g(D_in·H + H²)              D_in = E + W (token and context), then H
    head        2T(H + W)V                                 reads [s_i; c_i]
Backward is twice the forward (a weight and an input gradient per matmul) except the encoder's
first step: h_0 = 0 needs no gradient, so its hidden-state gradients count S − 1 steps. The
decoder's initial state comes from the bridge, so all T of its steps pass a gradient back.
"""

from __future__ import annotations

from typing import Any

from seqlab.models.flop_table import FlopReport, Row, n, pair_lengths

GATES = {"rnn": 1, "gru": 3, "lstm": 4}  # H-wide weight blocks per cell
STATES = {"rnn": 1, "gru": 1, "lstm": 2}  # states per layer the bridge initialises: h (and an LSTM's c)
ATTENTION_STEPS = {"none": 0, "bahdanau": 3, "dot": 2}  # matmuls in sequence per decoder step


def _cell(widths: list[int], H: int, g: int, dirs: int = 1) -> dict[str, int]:
    """One time step of a stack of cells with the given input widths: forward matmuls, the input
    gradients and the hidden-state gradients of its backward pass, and the parameters."""
    return {"forward": dirs * sum(2 * g * (d * H + H * H) for d in widths),
            "grad_x": dirs * sum(2 * g * d * H for d in widths),
            "grad_h": dirs * len(widths) * 2 * g * H * H,
            "params": dirs * sum(g * H * (d + H) + 2 * g * H for d in widths)}  # torch's cells: two biases


def seq2seq_rnn_flops(cfg: Any, V: int, T: int, B: int = 1, h0_grad: bool = False,
                      target_len: int | None = None) -> FlopReport:
    """`T` is the source length S; `target_len` the decoder's (default: S, as copy/reverse/sort).
    `h0_grad` has no meaning here: the encoder starts from zeros, the decoder from the bridge."""
    S, Tt, lengths_note = pair_lengths(T, target_len)
    E, H, L, A, g = cfg.embed_size, cfg.hidden_size, cfg.num_layers, cfg.attn_size, GATES[cfg.cell]
    dirs = 2 if cfg.bidirectional else 1
    W, bridges, att = dirs * H, STATES[cfg.cell], cfg.attention
    enc = _cell([E] + [W] * (L - 1), H, g, dirs)
    dec = _cell([E + W] + [H] * (L - 1), H, g)
    enc_back = S * (enc["forward"] + enc["grad_x"]) + (S - 1) * enc["grad_h"]  # h_0 = 0: no gradient
    keys = {"bahdanau": 2 * S * W * A, "dot": 2 * S * W * H if W != H else 0}.get(att, 0)
    per_step = {"bahdanau": 2 * H * A + 2 * S * A + 2 * S * W, "dot": 2 * S * H + 2 * S * W}.get(att, 0)
    attend = keys + Tt * per_step
    key_params = {"bahdanau": H * A + W * A + A + A, "dot": W * H if W != H else 0}.get(att, 0)
    a, cell = ATTENTION_STEPS[att], cfg.cell.upper()
    rows = [
        Row("embedding (source and target)", "embedding", params=V * E),
        Row(f"encoder ({'Bi-' if dirs == 2 else ''}{cell} ×{L}, S steps)", "encoder", params=enc["params"],
            forward=B * S * enc["forward"], backward=B * enc_back, generate=B * S * enc["forward"],
            seq_forward=S * L, seq_backward=S * L, seq_generate=S * L),
        Row(f"bridge (W→H{' for h and c' if bridges == 2 else ''})", "bridge", params=bridges * (W * H + H),
            forward=B * bridges * L * 2 * W * H, backward=B * bridges * L * 4 * W * H,
            generate=B * bridges * L * 2 * W * H, seq_forward=1, seq_backward=1, seq_generate=1),
        Row(f"attention ({att}: keys, scores, context)", "attend", params=key_params, forward=B * attend,
            backward=2 * B * attend, generate=B * attend, seq_forward=Tt * a, seq_backward=Tt * a,
            seq_generate=Tt * a),
        Row(f"decoder ({cell} ×{L}, T steps)", "decoder", params=dec["params"], forward=B * Tt * dec["forward"],
            backward=2 * B * Tt * dec["forward"], generate=B * Tt * dec["forward"], seq_forward=Tt * L,
            seq_backward=Tt * L, seq_generate=Tt * L),
        Row("vocab head (s_i, c_i → V)", "head", params=(H + W) * V + V, forward=B * 2 * Tt * (H + W) * V,
            backward=B * 4 * Tt * (H + W) * V, generate=B * 2 * Tt * (H + W) * V, seq_forward=1,
            seq_backward=1, seq_generate=Tt),  # greedy: each token is chosen before the next step
    ]
    formulas = [
        f"encoder S·Σ dirs·2g(D_in·H + H²) = {n(S * enc['forward'])}, decoder T·Σ 2g(D_in·H + H²) = "
        f"{n(Tt * dec['forward'])} per pair (g = {g}, D_in = E + W = {E + W} for the decoder's first layer)",
        f"attention ({att}): {n(keys)} for the keys once + T × {n(per_step)} per step = {n(attend)} per pair"
        + (" (bahdanau: query 2HA + scores 2SA + context 2SW)" if att == "bahdanau" else ""),
        f"backward twice the forward, less the encoder's first-step hidden-state gradients (h_0 = 0): "
        f"{n(enc['grad_h'])} per pair",
        f"sequential matmuls: encoder SL = {S * L}, bridge 1, then T·(L + {a}) = {Tt * (L + a)} for the decoder"
        f" (+1 head; greedy decoding +T heads: each token waits for the one before)",
    ]
    notes = [lengths_note,
             "generate: greedy decoding of T tokens costs what teacher forcing does (one decoder step per token)"]
    dims = {"gates": g, "embed": E, "hidden": H, "layers": L, "dirs": dirs}
    return FlopReport("seq2seq_rnn", S, B, V, dims, rows, formulas, notes, target_len=Tt)
