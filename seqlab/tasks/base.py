"""The interface every task provides to the engine, with default hooks.

A task owns its data, its vocabulary, its loss and its metrics; the engine asks it for
training batches, the loss of a model on a batch and an evaluation dict, and calls a few
hooks whose defaults suit a language model on free text (samples from a prompt, no extra
pictures). What a task is (its kind) is declared on its class and on its registry spec;
the engine never probes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch

from seqlab.data.tokenizers.char import CharVocab


@dataclass
class Batch:
    """One sequence batch: what a language model reads and predicts."""

    inputs: torch.Tensor
    """(B, T) token ids fed to the model."""
    targets: torch.Tensor
    """(B, T) ids to predict; -100 marks positions without a loss."""

    def to(self, device: torch.device) -> Batch:
        return Batch(self.inputs.to(device, non_blocking=True), self.targets.to(device, non_blocking=True))

    @property
    def num_tokens(self) -> int:
        return self.inputs.numel()


@dataclass
class PairBatch:
    """A batch of (source, target) vocab ids, whatever model it goes to."""

    source: torch.Tensor
    """(B, S) source ids."""
    target: torch.Tensor
    """(B, Tt) target ids."""

    def to(self, device: torch.device) -> PairBatch:
        return PairBatch(self.source.to(device, non_blocking=True), self.target.to(device, non_blocking=True))

    @property
    def num_tokens(self) -> int:
        return self.source.numel() + self.target.numel()


TrainBatch = Batch | PairBatch
"""What `Task.train_batch` returns: the engine only moves it and counts its tokens."""


class Task:
    """What the engine needs from a task. Subclasses set `kind` and implement the four
    abstract methods; the hooks below have defaults."""

    kind: ClassVar[str] = "lm"
    """"lm", "classify" or "seq2seq": which models can serve it (as on its registry spec)."""
    headline: ClassVar[str] = "val_loss"
    """The metric the end-of-run line leads with (synthetic tasks: exact-match accuracy)."""
    name: str
    """Its registry name."""
    vocab: CharVocab
    """Token vocabulary shared by inputs and targets."""
    encoder_decoder: bool = False
    """Whether the model it feeds takes (source, target) pairs; set by `bind_model`."""
    block_size: int | None = None
    """The longest context that model holds (None: unbounded); set by `bind_model`."""

    def train_batch(self, batch_size: int, generator: torch.Generator) -> TrainBatch:
        """A random training batch drawn with `generator` (seeded: resumable)."""
        raise NotImplementedError

    def loss(self, model: torch.nn.Module, batch: TrainBatch) -> torch.Tensor:
        """Run `model` on `batch` and return the mean loss (a scalar tensor).

        The task drives the forward pass because it knows what the model is fed
        (a decoder-only model gets one sequence, an encoder-decoder a pair).
        """
        raise NotImplementedError

    def evaluate(self, model: torch.nn.Module, batch_size: int, num_batches: int | None,
                 device: torch.device) -> dict[str, float]:
        """Held-out metrics; the keys go to metrics.jsonl as they are (val_loss, ...)."""
        raise NotImplementedError

    def summary(self) -> dict[str, Any]:
        """Facts about the data for summary.json (sizes, unknown characters, ...)."""
        raise NotImplementedError

    # Hooks with defaults.

    def bind_model(self, encoder_decoder: bool, block_size: int | None = None) -> None:
        """Told once, before training, how the model it feeds reads an example and how many
        positions it holds (from the model's registry spec and config, never from the model)."""
        self.encoder_decoder, self.block_size = encoder_decoder, block_size

    def context_length(self, length: int | None = None) -> int | None:
        """Positions the bound model must hold for one example (None: no fixed length)."""
        return None

    def flop_lengths(self) -> tuple[int, int | None] | None:
        """What the FLOP model counts per example: (window, None) for a model fed one sequence,
        (source, decoder tokens) for an encoder-decoder; None: no fixed length."""
        window = self.context_length()
        return None if window is None else (window, None)

    def examples(self, model: torch.nn.Module, n: int, device: torch.device) -> list[str] | None:
        """samples.txt lines of the task's own making; None: sample free text from a prompt."""
        return None

    def write_artifacts(self, model: torch.nn.Module, run_dir: Path, device: torch.device) -> None:
        """Task-specific pictures in the run folder at each evaluation (default: none)."""

    def place(self, device: torch.device) -> None:
        """Told the training device once: a task may keep its data there (default: stays put)."""
