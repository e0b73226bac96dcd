"""FLOP model of the Mamba-2 language model (seqlab/models/mamba/model.py), in the conventions
of seqlab/models/flop_table.py, for B sequences of T tokens.

Per layer (width D, inner width E = expand * D, state N, heads h = E / headdim, conv kernel K
on C = E + 2N channels), forward: in_proj 2TD(2E + 2N + h), conv 2TCK, SSD (below),
out_proj 2TED; then the head 2TDV. SSD in chunks of Q = min(chunk_size, T) steps (c = ⌈T/Q⌉ chunks,
T padded to cQ), the five einsums of the chunked form, all matmuls:

    C·Bᵀ within chunks   2·cQ·Q·N        (masked by the decays: elementwise)
    y_diag               2·cQ·Q·E        (the masked C·Bᵀ times the inputs)
    chunk states         2·cQ·N·E        (each chunk's final state from its inputs)
    carry across chunks  2·(c+1)²·E·N    (a (c+1)×(c+1) decay matrix times the states)
    y_off                2·cQ·N·E        (each entering state read out by C)

An einsum contracting over one element (Q = 1, or N = 1) is an elementwise product: 0 here.

Generating, one token takes the recurrent step, whose only matmul is the readout y = h·C
(2EN); the state update exp(dt·A)·h + dt·x·Bᵀ is elementwise.
"""

from __future__ import annotations

from typing import Any

from seqlab.errors import SeqlabError
from seqlab.models.flop_table import FlopReport, Row, n


def mm(k: int, flops: int) -> int:
    """An einsum's FLOPs, 0 when its contracted size k is 1: then it is an elementwise product
    (torch.einsum runs it as one, and FlopCounterMode agrees)."""
    return 0 if k == 1 else flops


def ssd_flops(T: int, Q: int, N: int, E: int) -> tuple[int, int]:
    """(chunked SSD forward, its critical path in matmuls) per layer and sequence."""
    c = -(-T // Q)
    Tp = c * Q
    cb, diag = mm(N, 2 * Tp * Q * N), mm(Q, 2 * Tp * Q * E)
    states, carry, off = mm(Q, 2 * Tp * N * E), 2 * (c + 1) ** 2 * E * N, mm(N, 2 * Tp * N * E)
    return cb + diag + states + carry + off, 3  # states -> carry -> y_off (C·Bᵀ -> y_diag beside it)


def mamba_flops(cfg: Any, V: int, T: int, B: int = 1, h0_grad: bool = False) -> FlopReport:
    """Mamba-2; `h0_grad` has no meaning here (no matmul reads the initial state)."""
    D, L, N, K = cfg.n_embd, cfg.n_layer, cfg.d_state, cfg.d_conv
    E = cfg.expand * D
    if E % cfg.headdim:
        raise SeqlabError(f"model.headdim ({cfg.headdim}) must divide expand * n_embd ({E})")
    heads, C = E // cfg.headdim, E + 2 * N
    chunked = cfg.scan == "chunked"
    Q = min(cfg.chunk_size, T)
    readout = mm(N, 2 * T * E * N)  # y_t = h_t·C_t, one per token
    ssd, ssd_seq = ssd_flops(T, Q, N, E) if chunked else (readout, 1)

    def row(component: str, key: str, forward: int, params: int = 0, seq: int = 1,
            generate: int | None = None) -> Row:
        """A component `seq` matmuls deep per layer in training; once per token when generating."""
        gen = forward if generate is None else generate
        return Row(component, key, params=params, forward=B * forward * L, backward=2 * B * forward * L,
                   generate=B * gen * L, seq_forward=seq * L, seq_backward=seq * L, seq_generate=T * L)

    rows = [
        Row("embedding (tied to the head)", "embedding", params=V * D),
        row(f"in_proj (D→2E+2N+h, h = {heads})", "in_proj", 2 * T * D * (2 * E + 2 * N + heads),
            D * (2 * E + 2 * N + heads) * L),
        row(f"causal depthwise conv (k={K}) on x, B, C", "conv", 2 * T * C * K, C * (K + 1) * L),
        row(f"SSD ({'chunked, Q = ' + str(Q) if chunked else 'sequential'}) · generate: readout h·C",
            "ssd", ssd, 3 * heads * L, ssd_seq, generate=readout),
        row("out_proj (E→D)", "out_proj", 2 * T * E * D, E * D * L),
        Row("norms (block, gated, final)", "norms", params=L * (D + E) + D),
        Row("vocab head (tied)", "head", forward=B * 2 * T * D * V, backward=B * 4 * T * D * V,
            generate=B * 2 * T * D * V, seq_forward=1, seq_backward=1, seq_generate=T),
        Row("  state update (elementwise)", "scan", forward=B * elementwise(T, Q, N, E, heads, chunked) * L,
            backward=2 * B * elementwise(T, Q, N, E, heads, chunked) * L, generate=B * 3 * T * E * N * L,
            in_total=False),
    ]
    report = FlopReport("mamba", T, B, V, {"layers": L, "n_embd": D, "inner": E, "d_state": N, "heads": heads,
                                           "chunk": Q}, rows)
    report.formulas = [
        f"SSD forward per layer and sequence: {n(ssd)} ({'the five einsums of the chunked form' if chunked else 'T readouts 2EN'}"
        f"), against 2·T·E·N = {n(2 * T * E * N)} for the recurrence's readouts alone",
        "backward = 2 × forward: every matmul's inputs need a gradient (decays included: A and dt are trained)",
        f"sequential matmuls: forward {3 + ssd_seq}L = {(3 + ssd_seq) * L} (in_proj, conv, "
        f"{'C·Bᵀ beside the chunk states → carry → y_off' if chunked else 'readout'}, out_proj; +1 head), the same "
        f"backward, generate 4LT = {4 * L * T} (+T heads): the state update between them is elementwise",
        "state update row (not a matmul, not in the total): the elementwise multiplies of the scan "
        + ("(decay mask on C·Bᵀ, decays of the inputs and of the entering states, y_diag + y_off)" if chunked
           else "(3EN per token: dt·x·Bᵀ, exp(dt·A)·h, their sum)") + "; backward counted as 2 × forward; "
        "generating: 3EN per token",
    ]
    conv = next(r for r in rows if r.key == "conv")
    report.notes = [f"FlopCounterMode counts the depthwise conv's weight gradient as a dense conv (it ignores "
                    f"groups): its training count exceeds this one by (C−1) × the conv's forward = "
                    f"{n((C - 1) * conv.forward)} (C = {C}); forward agrees"]
    return report


def elementwise(T: int, Q: int, N: int, E: int, heads: int, chunked: bool) -> int:
    """Elementwise multiplies of one layer's scan, per sequence (see the formulas)."""
    if not chunked:
        return 3 * T * E * N
    Tp = -(-T // Q) * Q
    return heads * Tp * Q + 3 * Tp * E
