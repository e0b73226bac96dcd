"""The interface every task provides to the engine.

A task owns its data, its vocabulary, its loss and its metrics; the engine only asks it
for training batches, the loss of a model on a batch, and an evaluation dict. New kinds of task
(classification, sequence-to-sequence) implement the same four methods.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import torch

from seqlab.tasks.vocab import CharVocab


@dataclass
class Batch:
    """One batch on the model's device."""

    inputs: torch.Tensor
    """(B, T) token ids fed to the model."""
    targets: torch.Tensor
    """(B, T) ids to predict; -100 marks positions without a loss."""

    def to(self, device: torch.device) -> Batch:
        return Batch(self.inputs.to(device, non_blocking=True), self.targets.to(device, non_blocking=True))

    @property
    def num_tokens(self) -> int:
        return self.inputs.numel()


class Task(Protocol):
    """What the engine needs from a task."""

    kind: str
    """"lm", "classify" or "seq2seq": which models can serve it."""
    vocab: CharVocab
    """Token vocabulary shared by inputs and targets."""

    def train_batch(self, batch_size: int, generator: torch.Generator) -> Batch:
        """A random training batch drawn with `generator` (seeded: resumable)."""
        ...

    def loss(self, model: torch.nn.Module, batch: Batch) -> torch.Tensor:
        """Run `model` on `batch` and return the mean loss (a scalar tensor).

        The task drives the forward pass because it knows what the model is fed
        (a decoder-only model gets one sequence, an encoder-decoder a pair).
        """
        ...

    def evaluate(self, model: torch.nn.Module, batch_size: int, num_batches: int,
                 device: torch.device) -> dict[str, float]:
        """Held-out metrics; the keys go to metrics.jsonl as they are (val_loss, ...)."""
        ...

    def summary(self) -> dict[str, Any]:
        """Facts about the data for summary.json (sizes, unknown characters, ...)."""
        ...
