"""Optimiser and learning-rate schedule from the trainer config."""

from __future__ import annotations

import math
from typing import Any

import torch

from seqlab.errors import SeqlabError


def make_optimizer(model: torch.nn.Module, cfg: Any, fused: bool = False) -> torch.optim.Optimizer:
    """Adam or AdamW from the trainer config; `fused` (GPUs): one kernel per step, and it can skip
    a non-finite step without the host reading the device."""
    kinds = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}
    if cfg.optimizer not in kinds:
        raise SeqlabError(f"trainer.optimizer must be one of {', '.join(kinds)}, got '{cfg.optimizer}'")
    return kinds[cfg.optimizer](model.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2),
                                weight_decay=cfg.weight_decay, **({"fused": True} if fused else {}))


def lr_at(step: int, cfg: Any) -> float:
    """Learning rate for optimiser step `step` (0-based): linear warm-up, then constant or cosine."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    if cfg.lr_schedule == "constant":
        return cfg.lr
    if cfg.lr_schedule == "cosine":
        span = max(1, cfg.max_steps - cfg.warmup_steps)
        progress = min(1.0, (step - cfg.warmup_steps) / span)
        floor = cfg.lr * cfg.min_lr_ratio
        return floor + 0.5 * (cfg.lr - floor) * (1 + math.cos(math.pi * progress))
    raise SeqlabError(f"trainer.lr_schedule must be constant or cosine, got '{cfg.lr_schedule}'")
