"""Next-character prediction over one long encoded text (any char-level corpus)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from seqlab.errors import SeqlabError
from seqlab.models.modes import eval_mode
from seqlab.tasks.base import Batch, Task
from seqlab.tasks.vocab import CharVocab

LN2 = float(np.log(2.0))


class CharLMTask(Task):
    """Windows of `seq_len + 1` characters; the targets are the inputs shifted by one."""

    kind = "lm"

    def __init__(self, train: np.ndarray, val: np.ndarray, vocab: CharVocab, seq_len: int,
                 facts: dict[str, Any] | None = None, name: str = "tinystories") -> None:
        if seq_len < 1:
            raise SeqlabError(f"task.seq_len must be at least 1, got {seq_len}")
        for split, data in (("train", train), ("validation", val)):
            if len(data) < seq_len + 2:
                raise SeqlabError(
                    f"the {split} text has {len(data)} characters; one example of "
                    f"task.seq_len={seq_len} needs at least {seq_len + 2}"
                )
        self.name, self.vocab, self.seq_len = name, vocab, seq_len
        # Kept as compact integer tensors; widened to int64 one batch at a time.
        self.train_data = torch.from_numpy(train.astype(np.int32 if train.dtype == np.uint16 else train.dtype))
        self.val_data = torch.from_numpy(val.astype(np.int32 if val.dtype == np.uint16 else val.dtype))
        self._offsets = torch.arange(seq_len + 1)
        self.facts = facts or {}

    def _windows(self, data: torch.Tensor, starts: torch.Tensor) -> Batch:
        chunk = data[starts[:, None] + self._offsets].long()  # (B, T+1)
        return Batch(chunk[:, :-1], chunk[:, 1:])

    def train_batch(self, batch_size: int, generator: torch.Generator) -> Batch:
        high = len(self.train_data) - self.seq_len
        starts = torch.randint(0, high, (batch_size,), generator=generator)
        return self._windows(self.train_data, starts)

    def eval_batches(self, batch_size: int, num_batches: int | None, split: str = "validation"):
        """Evenly spaced windows over the split: the same ones at every evaluation.

        `num_batches=None` walks the whole split once, in order, without overlap.
        """
        data = self.val_data if split == "validation" else self.train_data
        last = len(data) - self.seq_len - 1
        if num_batches is None:
            starts = torch.arange(0, last + 1, self.seq_len)
        else:
            count = min(num_batches * batch_size, last + 1)
            starts = torch.from_numpy(np.linspace(0, last, count).round().astype(np.int64))
        for chunk in starts.split(batch_size):
            yield self._windows(data, chunk)

    def context_length(self, length: int | None = None) -> int:
        return self.seq_len

    def loss(self, model: torch.nn.Module, batch: Batch) -> torch.Tensor:
        logits, _ = model(batch.inputs)  # (B, T, V)
        return F.cross_entropy(logits.flatten(0, 1).float(), batch.targets.flatten(), ignore_index=-100)

    @torch.no_grad()
    def evaluate(self, model: torch.nn.Module, batch_size: int, num_batches: int | None,
                 device: torch.device) -> dict[str, float]:
        total, count = 0.0, 0
        with eval_mode(model):
            for batch in self.eval_batches(batch_size, num_batches):
                batch = batch.to(device)
                n = batch.targets.numel()
                total += self.loss(model, batch).item() * n
                count += n
        val_loss = total / count
        return {"val_loss": val_loss, "val_bpc": val_loss / LN2}

    def summary(self) -> dict[str, Any]:
        return {
            "vocab_size": len(self.vocab),
            "train_chars": len(self.train_data),
            "val_chars": len(self.val_data),
            **self.facts,
        }
