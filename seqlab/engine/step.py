"""One optimiser step, and what it reports to the callbacks."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from seqlab.engine.precision import autocast
from seqlab.tasks.base import Task, TrainBatch


@dataclass
class StepResult:
    """What one step did; callbacks read it and fill `record` on log steps."""

    step: int
    """The step just taken (1-based)."""
    loss: torch.Tensor
    """Training loss of the batch (a device scalar: reading it would sync the device)."""
    grad_norm: torch.Tensor
    """Gradient norm before clipping (device scalar)."""
    applied: bool
    """False when the loss or gradient was not finite and the update was skipped."""
    tokens: int
    """Tokens in the batch."""
    log: bool
    """This step writes a metrics record."""
    evaluate: bool
    """This step evaluates (and checkpoints)."""
    record: dict[str, Any] | None = None
    """The metrics record of a log step, filled by the callbacks in order."""


def train_step(model: torch.nn.Module, task: Task, batch: TrainBatch, optimizer: torch.optim.Optimizer,
               grad_clip: float, precision: str = "fp32") -> tuple[torch.Tensor, torch.Tensor, bool]:
    """One optimiser step: (loss, gradient norm before clipping, whether the step was applied).

    The forward pass runs under `precision` (fp32, or bf16 autocast); the backward pass
    follows it, outside the context as torch.autocast asks. A step whose loss or gradient
    is not finite is not applied, so the weights stay good.
    """
    with autocast(precision, next(model.parameters()).device):
        loss = task.loss(model, batch)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip if grad_clip > 0 else math.inf)
    finite = bool(torch.isfinite(loss)) and bool(torch.isfinite(grad_norm))
    if finite:
        optimizer.step()
    return loss.detach(), grad_norm.detach(), finite
