"""One optimiser step, and what it reports to the callbacks."""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import Any

import torch

from seqlab.engine.optim import Optimizer
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
    """Tokens of the step over every rank and micro-batch."""
    log: bool
    """This step writes a metrics record."""
    evaluate: bool
    """This step evaluates (and checkpoints)."""
    record: dict[str, Any] | None = None
    """The metrics record of a log step, filled by the callbacks in order."""


def train_step(model: torch.nn.Module, task: Task, batches: TrainBatch | list[TrainBatch],
               optimizer: Optimizer, grad_clip: float, precision: str = "fp32",
               scaler: torch.amp.GradScaler | None = None, synced: bool = False, defer: bool = False,
               ) -> tuple[torch.Tensor, torch.Tensor, bool | torch.Tensor]:
    """One optimiser step: (loss, gradient norm before clipping, whether the step was applied).

    `batches` are the step's micro-batches (grad_accum_steps of them): each forward runs under
    `precision` (fp32, or bf16/fp16 autocast), each backward follows outside the context as
    torch.autocast asks, on loss / len(batches), so the gradient is that of the mean loss over
    all of them. A DDP model syncs gradients on the last backward only (`no_sync` before).
    A step whose gradient (or, in one process, loss) is not finite is not applied, so the
    weights stay good; `synced` (DDP) decides from the all-reduced gradient norm alone, a value
    every rank shares, so every rank skips the same steps. `defer` (a fused optimiser on a GPU)
    decides on the device: the optimiser gets `found_inf` and skips the update itself, and
    the returned `applied` is a device bool, so the step never waits for the GPU.
    """
    batches = batches if isinstance(batches, list) else [batches]
    device = next(model.parameters()).device
    optimizer.zero_grad(set_to_none=True)
    total = torch.zeros((), device=device)
    for i, batch in enumerate(batches):
        last = i == len(batches) - 1
        with (contextlib.nullcontext() if last or not synced else model.no_sync()):
            with autocast(precision, device):
                loss = task.loss(model, batch) / len(batches)
            (scaler.scale(loss) if scaler else loss).backward()
        total += loss.detach().float()
    if scaler:
        scaler.unscale_(optimizer)  # clip the true gradient, not the scaled one
    grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip if grad_clip > 0 else math.inf)
    if defer and not scaler:
        ok = torch.isfinite(grad_norm) & (torch.isfinite(total) | synced)
        optimizer.found_inf = (~ok).float()  # read by fused Adam/AdamW: no host sync
        optimizer.step()
        return total, grad_norm.detach(), ok
    finite = bool(torch.isfinite(grad_norm)) and (synced or bool(torch.isfinite(total)))
    if scaler:
        scaler.step(optimizer)  # skips the update itself when the scaled gradients overflowed
        scaler.update()
    elif finite:
        optimizer.step()
    return total, grad_norm.detach(), finite
