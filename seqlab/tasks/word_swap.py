"""A small labelled text task where pretraining can help: is this window real, or were two
of its words swapped?

Half the examples are TinyStories windows as they are (label 1), half have two distinct
whole words (runs between two spaces inside the window) exchanged (label 0), so both
classes have the same characters and the same length: only word order tells them apart.
The labelled training set is `train_size` windows of the train split, drawn once from
`data_seed`; the test set is `test_size` windows of the validation split. The vocabulary
is the masked-LM task's, so an encoder pretrained with `task=tinystories_mlm` loads here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from seqlab.errors import SeqlabError
from seqlab.models.modes import eval_mode
from seqlab.tasks.base import Batch, Task
from seqlab.tasks.mlm import masked_corpus
from seqlab.tasks.synthetic_data import data_generator_seed

Tensor = torch.Tensor


def swap_two_words(ids: np.ndarray, space: int, rng: np.random.Generator) -> np.ndarray | None:
    """`ids` with two different whole words exchanged, or None when the window has no such pair."""
    spaces = np.flatnonzero(ids == space)
    starts, ends = spaces[:-1] + 1, spaces[1:]
    keep = ends > starts
    starts, ends = starts[keep], ends[keep]
    if len(starts) < 2:
        return None
    i, j = sorted(rng.choice(len(starts), size=2, replace=False))
    a, b = ids[starts[i]:ends[i]], ids[starts[j]:ends[j]]
    if np.array_equal(a, b):
        return None
    return np.concatenate([ids[:starts[i]], b, ids[ends[i]:starts[j]], a, ids[ends[j]:]])


def labelled_windows(data: Tensor, seq_len: int, count: int, space: int, seed: int) -> Batch:
    """`count` windows, alternately real (1) and swapped (0), from random starts; targets (B, 1)."""
    rng = np.random.default_rng(seed)
    text = data.numpy()
    rows, labels = [], []
    while len(rows) < count:
        start = int(rng.integers(0, len(text) - seq_len))
        window = text[start:start + seq_len]
        real = len(rows) % 2 == 0
        row = window if real else swap_two_words(window, space, rng)
        if row is not None:
            rows.append(row)
            labels.append(int(real))
    return Batch(torch.from_numpy(np.stack(rows)).long(), torch.tensor(labels)[:, None])


class WordSwapTask(Task):
    """Binary classification of windows (real vs two words swapped) for encoder-only models."""

    kind = "sequence_classify"

    def __init__(self, cfg: Any) -> None:
        self.name = cfg.name
        if cfg.train_size < 2 or cfg.test_size < 2:
            raise SeqlabError("task.train_size and task.test_size must be at least 2")
        corpus = masked_corpus(cfg)
        self.vocab, self.seq_len = corpus.vocab, cfg.seq_len
        space = int(self.vocab.encode(" ")[0])
        seed = data_generator_seed(cfg.data_seed)
        self.train = labelled_windows(corpus.train, cfg.seq_len, cfg.train_size, space, seed)
        self.test = labelled_windows(corpus.val, cfg.seq_len, cfg.test_size, space, seed + 1)

    def train_batch(self, batch_size: int, generator: torch.Generator) -> Batch:
        pick = torch.randint(0, len(self.train.inputs), (batch_size,), generator=generator)
        return Batch(self.train.inputs[pick], self.train.targets[pick])

    def loss(self, model: torch.nn.Module, batch: Batch) -> Tensor:
        return F.cross_entropy(model.classify(batch.inputs).float(), batch.targets[:, 0])

    @torch.no_grad()
    def evaluate(self, model: torch.nn.Module, batch_size: int, num_batches: int | None,
                 device: torch.device) -> dict[str, float]:
        """val_loss and val_acc (50% = chance) on the whole fixed test set."""
        with eval_mode(model):
            loss_sum = right = 0.0
            for inputs, targets in zip(self.test.inputs.split(256), self.test.targets.split(256)):
                logits = model.classify(inputs.to(device)).float()
                targets = targets[:, 0].to(device)
                loss_sum += F.cross_entropy(logits, targets, reduction="sum").item()
                right += (logits.argmax(-1) == targets).sum().item()
        return {"val_loss": loss_sum / len(self.test.inputs), "val_acc": right / len(self.test.inputs)}

    def context_length(self, length: int | None = None) -> int:
        return self.seq_len

    @torch.no_grad()
    def examples(self, model: torch.nn.Module, n: int, device: torch.device) -> list[str]:
        """samples.txt: test windows, their label and the model's."""
        with eval_mode(model):
            pred = model.classify(self.test.inputs[:n].to(device)).argmax(-1).cpu()
        names = ("swapped", "real")
        return [f"{self.vocab.decode(x.tolist())!r}: {names[int(y)]}, model: {names[int(p)]}"
                for x, y, p in zip(self.test.inputs[:n], self.test.targets[:n, 0], pred)]

    def summary(self) -> dict[str, Any]:
        return {"vocab_size": len(self.vocab), "kind": self.kind, "train_size": len(self.train.inputs),
                "test_size": len(self.test.inputs)}


def build_tinystories_swap(cfg: Any) -> WordSwapTask:
    return WordSwapTask(cfg)
