"""The analytic counts checked against PyTorch's FlopCounterMode, per component and in total."""

from __future__ import annotations

import re
from typing import Any

from seqlab.models.flop_table import FlopReport, n


def measure_flops(model: Any, *inputs: Any) -> dict[str, Any]:
    """FlopCounterMode's count of `model` on `inputs` (ids (B, T); an encoder-decoder: source and
    decoder input): forward alone (no grad), then forward + backward of logits.sum();
    `by_module` is the forward count per module name."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(*inputs)
    forward = counter.get_total_flops()
    by_module = {k: sum(v.values()) for k, v in counter.get_flop_counts().items()}
    with FlopCounterMode(display=False) as counter:
        out = model(*inputs)
        (out[0] if isinstance(out, tuple) else out).float().sum().backward()
    model.zero_grad(set_to_none=True)
    return {"forward": forward, "training": counter.get_total_flops(), "by_module": by_module}


_ENC, _DEC = r"\.encoder\.\d+", r"\.decoder\.\d+"
# Row key -> (modules whose counted FLOPs it is, modules to subtract: an attention module's own
# QKᵀ and AV are what is left of it after its projections). None: the matmuls the model runs in
# its own forward (an RNN's attention bmm's), i.e. what the counter saw minus every other row.
_MODULES: dict[str, tuple[str, str | None] | None] = {
    "recurrence": (r"\.core$", None), "head": (r"\.(lm_head|head|out)$", None),
    "qkv": (r"\.attn\.(c_attn|q|kv)$", None), "out": (r"\.attn\.c_proj$", None),
    "attention": (r"\.attn$", r"\.attn\.(c_attn|q|kv|c_proj)$"), "mlp": (r"\.mlp$", None),
    "encoder": (r"\.encoder$", None), "bridge": (r"\.bridge(_c)?$", None), "decoder": (r"\.decoder$", None),
    "attend": None, "cls_head": (r"\.cls_head$", None),
    "enc_proj": (_ENC + r"\.attn\.(q|kv|c_proj)$", None), "enc_attention": (_ENC + r"\.attn$", _ENC + r"\.attn\.\w+$"),
    "enc_mlp": (_ENC + r"\.mlp$", None), "dec_mlp": (_DEC + r"\.mlp$", None),
    "dec_proj": (_DEC + r"\.attn\.(c_attn|c_proj)$", None), "dec_attention": (_DEC + r"\.attn$", _DEC + r"\.attn\.\w+$"),
    "cross_proj": (_DEC + r"\.cross\.(q|kv|c_proj)$", None),
    "cross_attention": (_DEC + r"\.cross$", _DEC + r"\.cross\.\w+$"),
}


def _module_sum(by_module: dict[str, int], pattern: str | None) -> int:
    return 0 if pattern is None else sum(v for k, v in by_module.items() if re.search(pattern, k))


def _fill_rows(report: FlopReport, by_module: dict[str, int], forward: int) -> None:
    """Each row's measured forward: its modules' count, or the remainder for the one row without."""
    remainder = None
    for row in report.rows:
        if row.key in ("embedding", "norms"):
            row.measured_forward = 0  # lookups and norms: no matmul, nothing for the counter
        elif row.key in _MODULES and _MODULES[row.key] is None:
            remainder = row
        elif row.key in _MODULES:
            include, exclude = _MODULES[row.key]
            row.measured_forward = _module_sum(by_module, include) - _module_sum(by_module, exclude)
    if remainder is not None:
        remainder.measured_forward = forward - sum(r.measured_forward or 0 for r in report.rows if r.in_total
                                                   and r is not remainder)


def measure_report(report: FlopReport, model_cfg: Any, seed: int = 0) -> FlopReport:
    """Fill the measured column: the countable copy on CPU, per component (forward) and in total."""
    import torch

    from seqlab.registry import build_model, explicit_config, model_spec

    cfg = explicit_config(model_cfg)
    how = ", ".join(f"{k}={v}" for k, v in model_spec(model_cfg.name).explicit_impl)
    what = f"a copy with {how}" if how else "the model as configured"
    torch.manual_seed(seed)
    inputs = [torch.randint(0, report.vocab_size, (report.batch, report.seq_len))]
    if report.target_len is not None:  # an encoder-decoder reads (source, decoder input)
        inputs.append(torch.randint(0, report.vocab_size, (report.batch, report.target_len)))
    # oneDNN's fused nn.LSTM is opaque to the counter; None: leave the other oneDNN settings alone
    with torch.backends.mkldnn.flags(enabled=False, deterministic=None, allow_tf32=None, fp32_precision=None):
        meas = measure_flops(build_model(cfg, report.vocab_size), *inputs)
    _fill_rows(report, meas.pop("by_module"), meas["forward"])
    report.measured = {**meas, "measured": what}
    report.notes.append(f"measured: torch.utils.flop_counter.FlopCounterMode on {what} "
                        f"(CPU with oneDNN off, B = {report.batch}; training = forward + backward of "
                        "logits.sum()); the counter misses kernels it cannot see into (SDPA, and nn.LSTM "
                        "under oneDNN) and counts causal attention as the full T×T")
    if cfg != model_cfg:  # show the blind spot itself next to the checked number
        seen = measure_flops(build_model(model_cfg, report.vocab_size), *inputs)["forward"]
        share = seen / max(report.total.forward, 1)
        report.measured["as_configured_forward"] = seen
        report.notes.append(f"the counter on the model as configured sees {n(seen)} forward FLOPs "
                            f"({share:.1%} of the analytic count)")
    return report
