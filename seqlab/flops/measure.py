"""The analytic counts checked against PyTorch's FlopCounterMode, per component and in total."""

from __future__ import annotations

import re
from typing import Any

from seqlab.flops.report import FlopReport, n


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

    from seqlab.registry import build_model, explicit_config, model_spec

    cfg = explicit_config(model_cfg)
    how = ", ".join(f"{k}={v}" for k, v in model_spec(model_cfg.name).explicit_impl) or "as configured"
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
    report.notes.append(f"measured: torch.utils.flop_counter.FlopCounterMode on a copy with {how} "
                        f"(CPU, B = {report.batch}; training = forward + backward of logits.sum()); "
                        "the counter misses fused kernels it cannot see into (nn.LSTM, SDPA on CPU) "
                        "and counts causal attention as the full T×T")
    if cfg != model_cfg:  # show the blind spot itself next to the checked number
        seen = measure_flops(build_model(model_cfg, report.vocab_size), idx)["forward"]
        share = seen / max(report.total.forward, 1)
        report.measured["as_configured_forward"] = seen
        report.notes.append(f"the counter on the model as configured sees {n(seen)} forward FLOPs "
                            f"({share:.1%} of the analytic count)")
    return report
