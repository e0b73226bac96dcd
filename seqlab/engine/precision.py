"""Numeric precision of a run's forward passes: plain fp32, or bf16 autocast (mixed precision).

With `bf16`, matmuls run in bfloat16 under torch.autocast while the weights, the optimiser
state and the loss stay fp32 (what nanoGPT and most GPU training do). On CPUs with
AVX512-BF16 the matmuls are ~3x faster; whole training steps 1.1-1.9x
(benchmarks/bench_models.py times both).
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


def autocast(precision: str, device: torch.device) -> contextlib.AbstractContextManager:
    """The context forward passes run under: bf16 autocast, or nothing for fp32."""
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def matmul_dtype(precision: str) -> torch.dtype:
    """The dtype the matmuls run in: the peak MFU is measured against."""
    return torch.bfloat16 if precision == "bf16" else torch.float32
