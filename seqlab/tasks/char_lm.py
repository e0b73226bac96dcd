"""Next-token prediction over one long encoded text (characters, bytes or BPE tokens)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from seqlab.data.tokenizers.char import CharVocab
from seqlab.errors import SeqlabError
from seqlab.models.modes import eval_mode
from seqlab.tasks.base import Batch, Task

LN2 = float(np.log(2.0))


class CharLMTask(Task):
    """Windows of `seq_len + 1` tokens; the targets are the inputs shifted by one.

    `train` and `val` are arrays, or TokenFiles of a prepared corpus (seqlab/data/token_cache.py):
    then resident memory does not grow with the corpus, only the pages a batch touches are read.
    """

    kind = "lm"

    def __init__(self, train: np.ndarray, val: np.ndarray, vocab: CharVocab, seq_len: int,
                 facts: dict[str, Any] | None = None, name: str = "tinystories") -> None:
        if seq_len < 1:
            raise SeqlabError(f"task.seq_len must be at least 1, got {seq_len}")
        for split, data in (("train", train), ("validation", val)):
            if len(data) < seq_len + 2:
                raise SeqlabError(
                    f"the {split} text has {len(data)} tokens; one example of "
                    f"task.seq_len={seq_len} needs at least {seq_len + 2}"
                )
        self.name, self.vocab, self.seq_len = name, vocab, seq_len
        # Kept as they come (a token file or an array): windows are gathered from them
        # one batch at a time and only then widened to int64.
        self.train_data, self.val_data = train, val
        self._offsets = np.arange(seq_len + 1)
        self._token_bytes = torch.from_numpy(vocab.token_bytes)
        self._token_chars = torch.from_numpy(vocab.token_chars)
        self.facts = facts or {}

    def _windows(self, data: Any, starts: torch.Tensor) -> Batch:
        chunk = torch.from_numpy(data[starts.numpy()[:, None] + self._offsets].astype(np.int64))  # (B, T+1)
        return Batch(chunk[:, :-1], chunk[:, 1:])

    def train_batch(self, batch_size: int, generator: torch.Generator) -> Batch:
        high = len(self.train_data) - self.seq_len
        starts = torch.randint(0, high, (batch_size,), generator=generator)  # the same stream either way
        if self._on_device is not None:  # windows gathered where the model is: no copy per step
            chunk = self._on_device[starts.to(self._on_device.device)[:, None] + self._device_offsets].long()
            return Batch(chunk[:, :-1], chunk[:, 1:])
        return self._windows(self.train_data, starts)

    _on_device: torch.Tensor | None = None

    def place(self, device: torch.device, max_share: float = 0.25) -> None:
        """On a GPU, keep the training tokens there when they take at most `max_share` of its free
        memory: windows are then sampled on the device. Elsewhere (or when too big) nothing moves."""
        if device.type != "cuda":
            return
        need = len(self.train_data) * np.dtype(np.int32).itemsize
        if need > max_share * torch.cuda.mem_get_info(device)[0]:
            return
        self.to_device(device)

    def to_device(self, device: torch.device) -> None:
        """The training tokens as one int32 tensor on `device` (place() decides when)."""
        self._on_device = torch.from_numpy(np.asarray(self.train_data).astype(np.int32)).to(device)
        self._device_offsets = torch.arange(self.seq_len + 1, device=device)

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
        total, count, chars, nbytes = 0.0, 0, 0, 0
        with eval_mode(model):
            for batch in self.eval_batches(batch_size, num_batches):
                chars += int(self._token_chars[batch.targets].sum())
                nbytes += int(self._token_bytes[batch.targets].sum())
                batch = batch.to(device)
                n = batch.targets.numel()
                total += self.loss(model, batch).item() * n
                count += n
        # Per token, per character and per UTF-8 byte of the predicted text: the last two
        # compare runs whatever their tokenizer.
        return {"val_loss": total / count, "val_bpc": total / chars / LN2, "val_bpb": total / nbytes / LN2}

    def summary(self) -> dict[str, Any]:
        """Sizes in tokens; in characters too (`facts` of a prepared corpus say them for any tokenizer)."""
        return {
            "vocab_size": len(self.vocab),
            "tokenizer": self.vocab.kind,
            "train_tokens": len(self.train_data),
            "val_tokens": len(self.val_data),
            "train_chars": len(self.train_data),
            "val_chars": len(self.val_data),
            **self.facts,
        }
