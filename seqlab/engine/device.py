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


def resolve_device(name: str) -> torch.device:
    """`auto` picks cuda > mps > cpu; an unavailable device is a user error naming what is."""
    have = available_devices()
    if name == "auto":
        return torch.device("cuda" if "cuda" in have else "mps" if "mps" in have else "cpu")
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


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
