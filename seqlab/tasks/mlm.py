"""Masked character modelling on TinyStories (BERT's objective at the character level).

Each window of `seq_len` characters has `mask_rate` of its positions selected (at least
one per window); a selected position is replaced by the mask token with probability
`mask_token`, by a random character with probability `random_token`, and otherwise left
as it is (Devlin et al. 2019: 15%, 80/10/10). The loss and the accuracy are over the
selected positions only. The vocabulary is TinyStories' characters plus the mask token,
shared with every task built by `masked_corpus`, so a model pretrained here can be
fine-tuned there (`trainer.init_from`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from seqlab.data.tokenizers.char import CharVocab
from seqlab.errors import SeqlabError
from seqlab.models.modes import eval_mode
from seqlab.tasks.base import Batch, Task

MASK = "\u2588"  # shown as a block in samples.txt; not a TinyStories character
EVAL_SEED = 1234  # the held-out windows' masks: the same at every evaluation


@dataclass
class MaskedCorpus:
    """TinyStories encoded in a vocabulary that also holds the mask token."""

    train: torch.Tensor
    val: torch.Tensor
    vocab: CharVocab
    mask_id: int


def masked_corpus(cfg: Any) -> MaskedCorpus:
    """The prepared TinyStories characters (the cache of `seqlab prepare`), re-indexed into
    CharVocab(chars + MASK)."""
    from seqlab.data.prepare import prepare

    entry = prepare(cfg)
    base = CharVocab.from_json(entry.meta["tokenizer"])
    if base.kind != "char":
        raise SeqlabError(f"masked modelling here is character-level: task.tokenizer must be char, not {base.kind}")
    train, val = (np.asarray(entry.tokens(split)) for split in ("train", "validation"))
    if MASK in base.chars:
        raise SeqlabError(f"the text already contains the mask character {MASK!r}")
    vocab = CharVocab(base.chars + MASK)
    # old id -> new id (the unknown id stays the last one)
    table = np.append(vocab.encode(base.chars), vocab.unk_id).astype(np.int64)
    return MaskedCorpus(torch.from_numpy(table[train]), torch.from_numpy(table[val]), vocab,
                        int(vocab.encode(MASK)[0]))


def window_starts(length: int, seq_len: int, count: int) -> torch.Tensor:
    """`count` evenly spaced window starts over a text of `length` ids."""
    return torch.from_numpy(np.linspace(0, length - seq_len, count).round().astype(np.int64))


def mask_tokens(ids: torch.Tensor, cfg: Any, mask_id: int, vocab_size: int, generator: torch.Generator) -> Batch:
    """BERT corruption of (B, T) ids: inputs with selected positions replaced, targets -100 elsewhere."""
    u = torch.rand(ids.shape, generator=generator)
    selected = u < cfg.mask_rate
    # a window with nothing selected would add no loss: select its lowest-u position
    empty = ~selected.any(1)
    selected[empty, u[empty].argmin(1)] = True
    how = torch.rand(ids.shape, generator=generator)
    random_ids = torch.randint(0, vocab_size, ids.shape, generator=generator)
    inputs = ids.clone()
    inputs[selected & (how < cfg.mask_token)] = mask_id
    swap = selected & (how >= cfg.mask_token) & (how < cfg.mask_token + cfg.random_token)
    inputs[swap] = random_ids[swap]
    return Batch(inputs, ids.masked_fill(~selected, -100))


class MaskedLMTask(Task):
    """Windows of TinyStories with BERT's masking; served to any model that reads a whole window."""

    kind = "mlm"

    def __init__(self, cfg: Any) -> None:
        self.name = cfg.name
        if not 0 < cfg.mask_rate <= 1 or cfg.mask_token < 0 or cfg.random_token < 0 \
                or cfg.mask_token + cfg.random_token > 1:
            raise SeqlabError("task.mask_rate must be in (0, 1], task.mask_token and task.random_token "
                              "non-negative with a sum of at most 1")
        corpus = masked_corpus(cfg)
        self.cfg, self.seq_len = cfg, cfg.seq_len
        self.train_data, self.val_data, self.vocab, self.mask_id = (corpus.train, corpus.val, corpus.vocab,
                                                                     corpus.mask_id)
        for split, data in (("train", self.train_data), ("validation", self.val_data)):
            if len(data) < self.seq_len + 1:
                raise SeqlabError(f"the {split} text is shorter than task.seq_len ({self.seq_len})")
        self._offsets = torch.arange(self.seq_len)

    def _corrupt(self, data: torch.Tensor, starts: torch.Tensor, generator: torch.Generator) -> Batch:
        return mask_tokens(data[starts[:, None] + self._offsets], self.cfg, self.mask_id, len(self.vocab), generator)

    def train_batch(self, batch_size: int, generator: torch.Generator) -> Batch:
        starts = torch.randint(0, len(self.train_data) - self.seq_len, (batch_size,), generator=generator)
        return self._corrupt(self.train_data, starts, generator)

    def eval_batch(self, count: int) -> Batch:
        """`count` fixed validation windows with fixed masks."""
        starts = window_starts(len(self.val_data), self.seq_len, count)
        return self._corrupt(self.val_data, starts, torch.Generator().manual_seed(EVAL_SEED))

    def loss(self, model: torch.nn.Module, batch: Batch) -> torch.Tensor:
        logits, _ = model(batch.inputs)
        return F.cross_entropy(logits.flatten(0, 1).float(), batch.targets.flatten(), ignore_index=-100)

    @torch.no_grad()
    def evaluate(self, model: torch.nn.Module, batch_size: int, num_batches: int | None,
                 device: torch.device) -> dict[str, float]:
        """val_loss and val_acc over the masked positions of fixed validation windows."""
        with eval_mode(model):
            batch = self.eval_batch(batch_size * (num_batches or 100))
            loss_sum = right = count = 0.0
            for inputs, targets in zip(batch.inputs.split(batch_size), batch.targets.split(batch_size)):
                inputs, targets = inputs.to(device), targets.to(device)
                logits, _ = model(inputs)
                scored = targets != -100
                loss_sum += F.cross_entropy(logits[scored].float(), targets[scored], reduction="sum").item()
                right += (logits[scored].argmax(-1) == targets[scored]).sum().item()
                count += scored.sum().item()
        return {"val_loss": loss_sum / count, "val_acc": right / count}

    def context_length(self, length: int | None = None) -> int:
        return self.seq_len

    @torch.no_grad()
    def examples(self, model: torch.nn.Module, n: int, device: torch.device) -> list[str]:
        """samples.txt: a corrupted validation window, then the model's guess at every selected position."""
        with eval_mode(model):
            batch = self.eval_batch(max(n, 1))
            guess = model(batch.inputs[:n].to(device))[0].argmax(-1).cpu()
        filled = torch.where(batch.targets[:n] != -100, guess, batch.inputs[:n])
        return [f"{self.vocab.decode(i.tolist())!r} -> {self.vocab.decode(f.tolist())!r}"
                for i, f in zip(batch.inputs[:n], filled)]

    def summary(self) -> dict[str, Any]:
        return {"vocab_size": len(self.vocab), "kind": self.kind, "train_chars": len(self.train_data),
                "val_chars": len(self.val_data), "mask_rate": self.cfg.mask_rate}


def build_tinystories_mlm(cfg: Any) -> MaskedLMTask:
    return MaskedLMTask(cfg)
