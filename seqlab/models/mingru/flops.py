"""FLOP model of the minGRU/minLSTM language models (seqlab/models/mingru/model.py), in the
conventions of seqlab/models/flop_table.py, for B sequences of T tokens.

Per layer (width D, hidden H = expand * D, g gate blocks: minGRU 2, minLSTM 3, conv kernel K),
forward: conv 2TDK, gate projection 2TD·gH, out projection 2THD, MLP 16TD²; then the head
2TDV. Every matmul runs over the whole sequence at once: the recurrence itself is an
elementwise scan (h_t = a_t h_{t-1} + b_t), no matmul, so the sequential column (matmuls on
the critical path) does not grow with T in training, unlike a GRU's TL. The scan's own
elementwise work is the `scan` row, shown beside the total and not in it.
"""

from __future__ import annotations

from typing import Any

from seqlab.models.flop_table import FlopReport, Row, n
from seqlab.models.mingru.scan import CHUNK

GATES = {"mingru": 2, "minlstm": 3}
"""H-wide blocks of the gate projection: minGRU [z, h~], minLSTM [f, i, h~]."""


def mingru_flops(cfg: Any, V: int, T: int, B: int = 1, h0_grad: bool = False) -> FlopReport:
    """minGRU; `h0_grad` has no meaning here (no matmul reads the initial state)."""
    return minrnn_flops(cfg, V, T, B, GATES["mingru"])


def minlstm_flops(cfg: Any, V: int, T: int, B: int = 1, h0_grad: bool = False) -> FlopReport:
    """minLSTM; `h0_grad` has no meaning here."""
    return minrnn_flops(cfg, V, T, B, GATES["minlstm"])


def scan_depth(T: int, parallel: bool) -> int:
    """Elementwise steps on the critical path of one layer's scan: the chunked scan runs its
    chunks side by side (CHUNK steps), carries across the T/CHUNK chunk boundaries, then adds
    every chunk's carry in one step; the sequential scan takes T steps."""
    if not parallel or T <= CHUNK:
        return T
    chunks = -(-T // CHUNK)
    return CHUNK + (chunks - 1) + 1


def minrnn_flops(cfg: Any, V: int, T: int, B: int, g: int) -> FlopReport:
    """The rows of a minGRU (g = 2) or minLSTM (g = 3) LM."""
    D, L, K = cfg.n_embd, cfg.n_layer, cfg.d_conv
    H, mlp = cfg.expand * cfg.n_embd, bool(cfg.mlp)
    norm = 2 if cfg.norm == "layernorm" else 1  # weight (and bias) per norm

    def row(component: str, key: str, forward: int, params: int = 0, seq: int = 1) -> Row:
        """A component whose every matmul reads the whole sequence: `seq` deep per layer in training
        (weight and input gradients side by side), once per token when generating."""
        return Row(component, key, params=params, forward=B * forward, backward=2 * B * forward,
                   generate=B * forward, seq_forward=seq * L, seq_backward=seq * L, seq_generate=seq * T * L)

    rows = [Row("embedding (tied to the head)", "embedding", params=V * D)]
    if K:
        rows.append(row(f"causal depthwise conv (k={K})", "conv", 2 * T * D * K * L, L * (D * K + D)))
    parallel = cfg.scan == "parallel"
    depth = scan_depth(T, parallel)
    rows += [
        row(f"gate projection (D→{g}H)", "gates", 2 * T * D * g * H * L, L * (D * g * H + g * H)),
        row("out projection (H→D)", "out_proj", 2 * T * H * D * L, L * H * D),
    ]
    if mlp:
        rows.append(row("MLP (D→4D→D)", "mlp", 16 * T * D * D * L, L * (8 * D * D + 5 * D), seq=2))
    rows += [
        Row("norms", "norms", params=((1 + mlp) * L + 1) * D * norm),
        Row("vocab head (tied)", "head", forward=B * 2 * T * D * V, backward=B * 4 * T * D * V,
            generate=B * 2 * T * D * V, seq_forward=1, seq_backward=1, seq_generate=T),
        Row("  scan h = a·h + b (elementwise)", "scan", forward=B * 2 * T * H * L, backward=B * 3 * T * H * L,
            generate=B * 2 * T * H * L, seq_forward=depth * L, seq_backward=depth * L, seq_generate=T * L,
            in_total=False),
    ]
    return FlopReport(cfg.name, T, B, V, {"layers": L, "n_embd": D, "hidden": H, "gates": g, "d_conv": K},
                      rows, formulas(rows, T, L, D, H, g, K, mlp, depth), notes(cfg, rows, D))


def formulas(rows: list[Row], T: int, L: int, D: int, H: int, g: int, K: int, mlp: bool, depth: int) -> list[str]:
    """How the rows were counted, per sequence."""
    per_layer = 3 + 2 * mlp if K else 2 + 2 * mlp
    conv = f"conv 2TDK = {n(2 * T * D * K)} + " if K else ""
    return [
        f"forward per layer and sequence: {conv}gates 2TD·gH = {n(2 * T * D * g * H)} (g = {g}, H = {H}) + "
        f"out 2THD = {n(2 * T * H * D)}" + (f" + MLP 16TD² = {n(16 * T * D * D)}" if mlp else ""),
        "backward = 2 × forward: every matmul's input needs a gradient too (the embedding is trained)",
        f"sequential matmuls: forward {per_layer}L = {per_layer * L} ({'conv, ' if K else ''}gates, out"
        f"{', mlp1, mlp2' if mlp else ''}; +1 head), the same backward, generate {per_layer}LT = "
        f"{per_layer * L * T} (+T heads): the recurrence adds none (it is elementwise)",
        f"scan row (not a matmul, not in the total): the recurrence's own multiply-adds, 2·B·T·H·L forward "
        f"(a·h + b), 3·B·T·H·L backward (g = dh + a·g, then dL/da = g·h); its critical path is {depth} "
        f"elementwise steps per layer ({'chunked: ' + str(CHUNK) + ' in a chunk + chunk carries + 1' if depth < T else 'T'})"
        f" where a GRU's is T matmuls; a tree scan would take 2·log2(T). Past one chunk the chunked form does "
        "~2.5× these multiply-adds (running products of a and the carry correction)",
    ]


def notes(cfg: Any, rows: list[Row], D: int) -> list[str]:
    """What the counter sees differently."""
    conv = next((r for r in rows if r.key == "conv"), None)
    if conv is None:
        return []
    extra = (D - 1) * conv.forward
    return [f"FlopCounterMode counts the depthwise conv's weight gradient as a dense conv (it ignores groups): "
            f"its training count exceeds this one by (D−1) × the conv's forward = {n(extra)}; forward agrees"]
