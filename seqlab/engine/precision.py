"""Numeric precision of a run's forward passes: plain fp32, bf16 or fp16 autocast (mixed precision).

With `bf16`, matmuls run in bfloat16 under torch.autocast while the weights, the optimiser
state and the loss stay fp32 (what nanoGPT and most GPU training do). On CPUs with
AVX512-BF16 the matmuls are ~3x faster; whole training steps 1.1-1.9x
(benchmarks/bench_models.py times both). `fp16` is for GPUs without bf16 (V100, T4): its
narrow range needs the loss scaled before backward (a GradScaler), so it is CUDA only.
"""

from __future__ import annotations

import contextlib

import torch

from seqlab.config.validate import PRECISIONS
from seqlab.errors import SeqlabError


def check_precision(precision: str, device: torch.device, name: str = "trainer.precision") -> None:
    """A one-line error, naming the setting `name`, for a precision unknown or not on `device`."""
    if precision not in PRECISIONS:
        raise SeqlabError(f"{name} must be one of {', '.join(PRECISIONS)}, got '{precision}'")
    if precision == "bf16":
        if device.type == "cuda" and not torch.cuda.is_bf16_supported():
            raise SeqlabError(f"{name} bf16: {torch.cuda.get_device_name(device)} has no bf16; use fp32")
        if device.type not in ("cpu", "cuda"):
            raise SeqlabError(f"{name} bf16 runs on cpu and cuda, not {device.type}; use fp32")
    if precision == "fp16" and device.type != "cuda":
        raise SeqlabError(f"{name} fp16 needs a CUDA device (on {device.type}: fp32, or bf16 on cpu)")


def autocast(precision: str, device: torch.device) -> contextlib.AbstractContextManager:
    """The context forward passes run under: bf16 or fp16 autocast, or nothing for fp32."""
    if precision in HALF:
        return torch.autocast(device.type, dtype=HALF[precision])
    return contextlib.nullcontext()


HALF = {"bf16": torch.bfloat16, "fp16": torch.float16}


def matmul_dtype(precision: str) -> torch.dtype:
    """The dtype the matmuls run in: the peak MFU is measured against."""
    return HALF.get(precision, torch.float32)


def grad_scaler(precision: str, device: torch.device) -> torch.amp.GradScaler | None:
    """fp16's loss scaler (skips a step whose scaled gradients overflow); None otherwise."""
    return torch.amp.GradScaler(device.type) if precision == "fp16" else None
