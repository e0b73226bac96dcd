"""Analytic FLOPs and sequential matmuls of seqlab's models, checked against PyTorch's counter.

Everything here is per component (embedding, recurrence or attention, MLP, vocab head)
and generalises the seed homework's hand answers: Elman RNN 4TLD² to generate and
12TLD² to train (4 forward + the seed's 8 backward); transformer 24LTD² + 4LT²D forward,
backward twice that, 6L sequential matmuls. No torch import unless something is measured.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field
from typing import Any

from seqlab.errors import SeqlabError

CONVENTIONS = [
    "an (A×B)(B×C) matmul counts 2·A·B·C FLOPs (half multiplies, half adds); only matmuls are counted",
    "excluded: biases, LayerNorm, softmax, masking, nonlinearities, gate arithmetic, dropout, "
    "the loss and the embedding lookup (0 FLOPs: a table read)",
    "backward = 2 × forward per matmul (input gradient + weight gradient); training = forward + backward",
    "generate: T tokens fed one at a time (RNN: hidden state; transformer: KV cache, step t attends to t positions)",
    "sequential: matmuls on the critical path; matmuls that can run side by side count once",
    "FLOPs are for the whole batch (B sequences of T tokens); sequential counts do not grow with B",
]
GATES = {"rnn": 1, "gru": 3, "lstm": 4}  # H-wide weight blocks per cell: Elman 1, GRU 3, LSTM 4


@dataclass
class Row:
    """One component: FLOPs (whole batch), sequential matmuls, parameters."""

    component: str
    key: str
    params: int = 0
    forward: int = 0
    backward: int = 0
    generate: int = 0
    seq_forward: int = 0
    seq_backward: int = 0
    seq_generate: int = 0
    in_total: bool = True  # False for the "needed" causal row, shown for comparison only
    measured_forward: int | None = None
    measured_training: int | None = None

    @property
    def training(self) -> int:
        return self.forward + self.backward

    @property
    def seq_training(self) -> int:
        return self.seq_forward + self.seq_backward

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "training": self.training, "seq_training": self.seq_training}


@dataclass
class FlopReport:
    """The FLOP table of one model config at one (T, B)."""

    model: str
    seq_len: int
    batch: int
    vocab_size: int
    dims: dict[str, int]
    rows: list[Row]
    formulas: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    measured: dict[str, Any] | None = None

    @property
    def total(self) -> Row:
        rows = [r for r in self.rows if r.in_total]
        sums = {f: sum(getattr(r, f) for r in rows) for f in
                ("params", "forward", "backward", "generate", "seq_forward", "seq_backward", "seq_generate")}
        meas = self.measured or {}
        return Row("total", "total", **sums, measured_forward=meas.get("forward"),
                   measured_training=meas.get("training"))

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "seq_len": self.seq_len, "batch": self.batch,
                "vocab_size": self.vocab_size, "dims": self.dims, "conventions": CONVENTIONS,
                "rows": [r.to_dict() for r in self.rows], "total": self.total.to_dict(),
                "formulas": self.formulas, "notes": self.notes, "measured": self.measured}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)


def _n(x: float) -> str:
    return f"{x:,.0f}"


def _recurrent(cfg: Any, V: int, T: int, B: int, h0_grad: bool) -> FlopReport:
    name, E, H, L = cfg.name, cfg.embed_size, cfg.hidden_size, cfg.num_layers
    g = GATES[name]
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
        f" → {_n(fwd)} per sequence",
        f"recurrence backward = weight grads {_n(grad_w)} + input grads {_n(grad_x)} + hidden-state grads {_n(grad_h)}"
        f" = {_n(grad_w + grad_x + grad_h)} per sequence",
        f"seed, per sequence (E = H = D, head excluded): generate {gx}4TLD² = {_n(seed['generate'])}; the seed's \"{gx}8TLD² to train\""
        f" = {_n(seed['backward'])} is the backward pass alone (weights 4 + inputs 2 + hidden states 2);"
        f" training = forward + backward = {gx}12TLD² = {_n(seed['generate'] + seed['backward'])}",
        f"sequential matmuls: forward TL = {T * L} (+1 head), training 2TL = {2 * T * L} (+2), "
        f"generate TL = {T * L} (+T heads: each token is sampled before the next step)",
    ]
    notes = []
    if E != H:
        notes.append(f"E = {E} ≠ H = {H}: layer 0 costs 2g·T·(E·H + H²); the seed's D² formulas assume E = H")
    if not h0_grad:
        notes.append(f"hidden-state grads count T−1 steps: h_0 = 0 gets no gradient, {_n(B * L * 2 * g * H * H)} "
                     f"less than the seed's 2TLD²-per-gate count (the counter agrees)")
    return FlopReport(name, T, B, V, {"gates": g, "embed": E, "hidden": H, "layers": L}, rows, formulas, notes)


def _transformer(cfg: Any, V: int, T: int, B: int) -> FlopReport:
    D, L = cfg.n_embd, cfg.n_layer
    ab, mb = bool(cfg.attn_bias), bool(cfg.bias)
    pos = D * cfg.block_size if cfg.pos_encoding == "learned" else 0
    computed, needed = 4 * T * T * D * L, 2 * T * (T + 1) * D * L  # full T×T vs the causal triangle
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
        Row("MLP (D→4D→D)", "mlp", params=L * (8 * D * D + 5 * D * mb), forward=B * 16 * T * D * D * L,
            backward=B * 32 * T * D * D * L, generate=B * 16 * T * D * D * L, seq_forward=2 * L,
            seq_backward=2 * L, seq_generate=2 * T * L),
        Row("LayerNorms", "norms", params=(2 * L + 1) * D * (1 + mb)),
        Row("vocab head (tied)", "head", forward=B * 2 * T * D * V, backward=B * 4 * T * D * V,
            generate=B * 2 * T * D * V, seq_forward=1, seq_backward=1, seq_generate=T),
        Row("  QKᵀ + AV needed (causal ◺)", "needed", forward=B * needed,
            backward=B * 2 * needed, generate=B * needed, in_total=False),
    ]
    dense, quad = 24 * L * T * D * D, 4 * L * T * T * D
    formulas = [
        f"seed, per sequence (head and norms excluded): forward 24LTD² + 4LT²D = {_n(dense)} + {_n(quad)} = {_n(dense + quad)}"
        f" (qkv 6 + out 2 + MLP 16 = 24; scores 2 + values 2 = 4)",
        f"backward twice the forward: 48LTD² + 8LT²D = {_n(2 * (dense + quad))}; training = forward + backward"
        f" = 72LTD² + 12LT²D = {_n(3 * (dense + quad))}",
        f"causal attention: computed 4LT²D = {_n(quad)} (sdpa and manual both compute the full T×T scores);"
        f" needed 2LT(T+1)D = {_n(needed)} ({needed / quad:.0%}: query i sees i keys; the ◺ row, not in the total)",
        f"generate with a KV cache: 24LTD² + 2LT(T+1)D = {_n(dense + needed)} (step t reads t cached keys)",
        f"sequential matmuls: forward 6L = {6 * L} (qkv, scores, values, out, mlp1, mlp2; +1 head), "
        f"training 12L = {12 * L} (+2), generate 6LT = {6 * L * T} (+T heads)",
    ]
    notes = [] if T <= cfg.block_size else [
        f"T = {T} exceeds block_size = {cfg.block_size}: the formulas assume one window of T tokens"]
    dims = {"layers": L, "n_embd": D, "n_head": cfg.n_head, "block_size": cfg.block_size}
    return FlopReport("transformer", T, B, V, dims, rows, formulas, notes)


def flops_report(model_cfg: Any, vocab_size: int, seq_len: int, batch: int = 1,
                 h0_grad: bool = False) -> FlopReport:
    """Analytic FLOPs for B sequences of T tokens. `h0_grad`: the initial RNN state needs a gradient
    (the seed's count; seqlab starts every window from a zero state, so it does not)."""
    if seq_len < 1 or batch < 1 or vocab_size < 1:
        raise SeqlabError(f"seq_len, batch and vocab_size must be positive, got {seq_len}, {batch}, {vocab_size}")
    if model_cfg.name in GATES:
        return _recurrent(model_cfg, vocab_size, seq_len, batch, h0_grad)
    if model_cfg.name == "transformer":
        return _transformer(model_cfg, vocab_size, seq_len, batch)
    raise SeqlabError(f"no FLOP model for model '{model_cfg.name}'; known: {', '.join([*GATES, 'transformer'])}")


def flops_per_token(model_cfg: Any, vocab_size: int, seq_len: int) -> dict[str, float]:
    """Analytic FLOPs per token of a length-T window: forward, backward, training (= both),
    generate. Attention is counted as computed (full T×T), averaged over the T tokens."""
    total = flops_report(model_cfg, vocab_size, seq_len).total
    per = {k: getattr(total, k) / seq_len for k in ("forward", "backward", "training", "generate")}
    return {**per, "seq_len": seq_len, "params": total.params}


def flops_json(model_cfg: Any, vocab_size: int, seq_len: int, batch_size: int) -> dict[str, Any]:
    """What a training run writes to flops.json: per token and per optimiser step."""
    report = flops_report(model_cfg, vocab_size, seq_len, batch_size)
    total = report.total
    return {"seq_len": seq_len, "batch_size": batch_size, "tokens_per_step": seq_len * batch_size,
            "per_token": flops_per_token(model_cfg, vocab_size, seq_len),
            "per_step": {"forward": total.forward, "backward": total.backward, "training": total.training},
            "conventions": CONVENTIONS, "report": report.to_dict()}


def _with(cfg: Any, **changes: Any) -> Any:
    """A copy of a config (DictConfig, dataclass or namespace) with some fields changed."""
    if dataclasses.is_dataclass(cfg):
        return dataclasses.replace(cfg, **changes)
    try:
        from omegaconf import DictConfig, OmegaConf

        if isinstance(cfg, DictConfig):
            return OmegaConf.merge(cfg, changes)
    except ImportError:  # pragma: no cover - omegaconf ships with seqlab
        pass
    from types import SimpleNamespace

    return SimpleNamespace(**{**vars(cfg), **changes})


def countable_config(model_cfg: Any) -> tuple[Any, str]:
    """The config whose every matmul FlopCounterMode sees: scratch cells / manual attention."""
    if model_cfg.name in GATES:
        return _with(model_cfg, impl="scratch"), "impl=scratch"
    return _with(model_cfg, attention="manual"), "attention=manual"


def measure_flops(model: Any, idx: Any) -> dict[str, Any]:
    """FlopCounterMode's count of `model` on ids `idx` (B, T): forward alone (no grad), then
    forward + backward of logits.sum(); `by_module` is the forward count per module name."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(idx)
    forward = counter.get_total_flops()
    by_module = {k: sum(v.values()) for k, v in counter.get_flop_counts().items()}
    with FlopCounterMode(display=False) as counter:
        out = model(idx)
        (out[0] if isinstance(out, tuple) else out).float().sum().backward()
    model.zero_grad(set_to_none=True)
    return {"forward": forward, "training": counter.get_total_flops(), "by_module": by_module}


_MODULES = {"recurrence": r"\.core$", "head": r"\.(lm_)?head$", "qkv": r"\.attn\.c_attn$",
            "out": r"\.attn\.c_proj$", "attention": r"\.attn$", "mlp": r"\.mlp$"}


def _module_sum(by_module: dict[str, int], key: str) -> int:
    return sum(v for k, v in by_module.items() if re.search(_MODULES[key], k))


def measure_report(report: FlopReport, model_cfg: Any, seed: int = 0) -> FlopReport:
    """Fill the measured column: the countable copy on CPU, per component (forward) and in total."""
    import torch

    from seqlab.registry import build_model

    cfg, how = countable_config(model_cfg)
    torch.manual_seed(seed)
    idx = torch.randint(0, report.vocab_size, (report.batch, report.seq_len))
    meas = measure_flops(build_model(cfg, report.vocab_size), idx)
    by = meas.pop("by_module")
    for row in report.rows:
        if row.key in ("embedding", "norms"):
            row.measured_forward = 0  # lookups and norms: no matmul, nothing for the counter
        elif row.key == "attention":  # the attn module minus its two projections = QKᵀ and AV
            row.measured_forward = _module_sum(by, "attention") - _module_sum(by, "qkv") - _module_sum(by, "out")
        elif row.key in _MODULES:
            row.measured_forward = _module_sum(by, row.key)
    report.measured = {**meas, "measured": how}
    blind = ("on CPU it sees nothing of the fused nn.LSTM kernel (fused nn.RNN/nn.GRU it counts in full)"
             if how == "impl=scratch" else
             "on CPU it sees no SDPA attention, and it counts causal attention as the full T×T")
    report.notes.append(f"measured: torch.utils.flop_counter.FlopCounterMode on a copy with {how} "
                        f"(CPU, B = {report.batch}; training = forward + backward of logits.sum()): {blind}")
    if cfg != model_cfg:  # show the blind spot itself next to the checked number
        seen = measure_flops(build_model(model_cfg, report.vocab_size), idx)["forward"]
        share = seen / max(report.total.forward, 1)
        report.measured["as_configured_forward"] = seen
        report.notes.append(f"the counter on the model as configured sees {_n(seen)} forward FLOPs "
                            f"({share:.1%} of the analytic count)")
    return report
