"""Device choice and seeding."""

from __future__ import annotations

import random

import numpy as np
import torch

from seqlab.errors import SeqlabError


def available_devices() -> list[str]:
    found = ["cpu"]
    if torch.cuda.is_available():
        found.append("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        found.append("mps")
    return found


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """`auto` picks cuda > mps > cpu; an unavailable device is a user error naming what is.
    Under multi-process training, `cuda` means this process's GPU, cuda:<local_rank>."""
    have = available_devices()
    if name == "auto":
        name = "cuda" if "cuda" in have else "mps" if "mps" in have else "cpu"
    if name == "cuda" and local_rank:
        name = f"cuda:{local_rank}"
    kind = name.split(":", 1)[0]
    if kind not in ("cpu", "cuda", "mps"):
        raise SeqlabError(f"device must be auto, cpu, cuda, cuda:N or mps, got '{name}'")
    if kind not in have:
        raise SeqlabError(f"device '{name}' is not available here; available: {', '.join(have)}")
    if kind == "cuda" and ":" in name:
        index = name.split(":", 1)[1]
        if not index.isdigit() or int(index) >= torch.cuda.device_count():
            raise SeqlabError(f"device '{name}': this machine has {torch.cuda.device_count()} CUDA device(s)")
    return torch.device(name)


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work, so that a clock read after it means something."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def peak_memory(device: torch.device) -> int | None:
    """Most bytes the run's tensors held on a CUDA device (None elsewhere: not tracked)."""
    return torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
