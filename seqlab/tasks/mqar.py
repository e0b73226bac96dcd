"""Multi-query associative recall (MQAR; Arora et al. 2023, "Zoology", arXiv 2312.04927).

One example of `seq_len` tokens: `num_kv_pairs` key-value pairs up front, then every key once
more (the query) at an even offset of the rest, the offsets drawn from a power law that puts
most queries close to the pairs; the token after a query must be its key's value. Keys come
from [1, V/2), values from [V/2, V), both distinct within an example; every other position
holds a random token (Zoology's `random_non_queries`). The loss and the accuracy count the
answer positions only (their targets; -100 elsewhere).

    k1 v1 k2 v2 ... kP vP | x x k2 x x x k1 x ...   inputs (x: a random token)
    -  -  -  -  ... -  -  | - - v2 - - - v1 - ...   targets (at the queries only)

The test set is drawn from `data_seed` (scrambled); training examples stream from the run's
own generator (or, train_size > 0, a set drawn once from a seed derived from data_seed), and
no training example equals a test example.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from seqlab.data.tokenizers.ids import IdTokenizer
from seqlab.errors import SeqlabError
from seqlab.models.modes import eval_mode
from seqlab.tasks.base import Batch, Task
from seqlab.tasks.synthetic_data import data_generator_seed, row_keys

Tensor = torch.Tensor
EVAL_CHUNK = 500


def num_kv_pairs(cfg: Any) -> int:
    """task.num_kv_pairs, or seq_len // 16 when it is null (Zoology's grid keeps that ratio)."""
    return cfg.seq_len // 16 if cfg.num_kv_pairs is None else int(cfg.num_kv_pairs)


def check_mqar(seq_len: int, num_kv_pairs: int, vocab_size: int) -> None:
    """One clear line for a configuration no example fits."""
    if seq_len % 2 or num_kv_pairs < 1 or 4 * num_kv_pairs > seq_len:
        raise SeqlabError(f"task mqar needs an even seq_len of at least 4 * num_kv_pairs; got seq_len {seq_len}, "
                          f"num_kv_pairs {num_kv_pairs}")
    if vocab_size // 2 - 1 < num_kv_pairs:
        raise SeqlabError(f"task mqar needs vocab_size // 2 - 1 >= num_kv_pairs distinct keys; got vocab_size "
                          f"{vocab_size}, num_kv_pairs {num_kv_pairs}")


def gap_weights(space: int, power_a: float) -> Tensor:
    """p(g) ∝ g^(power_a - 1) over the query slots g = 1..space (Zoology's power law)."""
    g = torch.arange(1, space + 1, dtype=torch.float64)
    p = power_a * g ** (power_a - 1)
    return p / p.sum()


def mqar(n: int, seq_len: int, num_kv_pairs: int, vocab_size: int, g: torch.Generator,
         power_a: float = 0.01) -> tuple[Tensor, Tensor]:
    """(inputs, targets), (n, seq_len) int64 each: targets hold the value after each query, -100 elsewhere."""
    check_mqar(seq_len, num_kv_pairs, vocab_size)
    P, half = num_kv_pairs, vocab_size // 2
    keys = 1 + torch.rand(n, half - 1, generator=g).argsort(dim=1)[:, :P]  # (n, P) distinct in [1, V/2)
    values = half + torch.rand(n, vocab_size - half, generator=g).argsort(dim=1)[:, :P]  # distinct in [V/2, V)
    context = 2 * P
    space = (seq_len - context) // 2  # query slots: even offsets after the pairs
    slots = torch.multinomial(gap_weights(space, power_a).expand(n, -1), P, replacement=False,
                              generator=g)  # (n, P) distinct slots, one per key
    inputs = torch.randint(0, vocab_size, (n, seq_len), generator=g)  # random filler
    inputs[:, 0:context:2], inputs[:, 1:context:2] = keys, values
    query_pos = context + 2 * slots  # (n, P)
    inputs.scatter_(1, query_pos, keys)
    targets = torch.full((n, seq_len), -100, dtype=torch.long)
    targets.scatter_(1, query_pos, values)  # read at the query: its key's value comes next
    return inputs, targets


class MQARTask(Task):
    """MQAR served to a decoder-only model: next-token loss on the answer positions only."""

    kind = "lm"
    headline = "val_acc"

    def __init__(self, cfg: Any) -> None:
        self.pairs = num_kv_pairs(cfg)
        check_mqar(cfg.seq_len, self.pairs, cfg.vocab_size)
        if cfg.test_size < 1 or cfg.train_size < 0:
            raise SeqlabError(f"task.test_size must be at least 1 and task.train_size at least 0; got "
                              f"{cfg.test_size}, {cfg.train_size}")
        self.name, self.cfg = cfg.name, cfg
        self.vocab = IdTokenizer(cfg.vocab_size)
        test_seed = data_generator_seed(cfg.data_seed)
        self.test = Batch(*self._draw(cfg.test_size, torch.Generator().manual_seed(test_seed)))
        self.test_keys = set(row_keys(self.test.inputs))
        self.train = None
        if cfg.train_size:  # a finite set, from its own seed, never a test example
            g = torch.Generator().manual_seed(data_generator_seed(cfg.data_seed + 1))
            self.train = Batch(*self._draw(cfg.train_size, g, exclude=self.test_keys))

    def _draw(self, n: int, g: torch.Generator, exclude: set[bytes] | None = None) -> tuple[Tensor, Tensor]:
        c = self.cfg
        inputs, targets = mqar(n, c.seq_len, self.pairs, c.vocab_size, g, c.power_a)
        if exclude:  # astronomically rare at any real vocabulary; redrawn all the same
            keep = torch.tensor([key not in exclude for key in row_keys(inputs)])
            while not bool(keep.all()):
                more = mqar(int((~keep).sum()), c.seq_len, self.pairs, c.vocab_size, g, c.power_a)
                inputs[~keep], targets[~keep] = more
                keep = torch.tensor([key not in exclude for key in row_keys(inputs)])
        return inputs, targets

    def train_batch(self, batch_size: int, generator: torch.Generator) -> Batch:
        if self.train is None:
            return Batch(*self._draw(batch_size, generator, exclude=self.test_keys))
        idx = torch.randint(0, len(self.train.inputs), (batch_size,), generator=generator)
        return Batch(self.train.inputs[idx], self.train.targets[idx])

    def loss(self, model: torch.nn.Module, batch: Batch) -> Tensor:
        logits, _ = model(batch.inputs)  # (B, T, V)
        return F.cross_entropy(logits.flatten(0, 1).float(), batch.targets.flatten(), ignore_index=-100)

    def context_length(self, length: int | None = None) -> int:
        return self.cfg.seq_len

    @torch.no_grad()
    def evaluate(self, model: torch.nn.Module, batch_size: int, num_batches: int | None,
                 device: torch.device) -> dict[str, float]:
        """val_loss on the answers, val_acc (answers right) and val_seq_acc (examples with every answer right)."""
        n = len(self.test.inputs) if num_batches is None else min(len(self.test.inputs), num_batches * batch_size)
        loss_sum = right = answers = whole = 0.0
        with eval_mode(model):
            for i in range(0, n, EVAL_CHUNK):
                b = Batch(self.test.inputs[i:min(i + EVAL_CHUNK, n)], self.test.targets[i:min(i + EVAL_CHUNK, n)]).to(device)
                logits, _ = model(b.inputs)
                scored = b.targets != -100
                loss_sum += F.cross_entropy(logits[scored].float(), b.targets[scored], reduction="sum").item()
                hit = (logits.argmax(-1) == b.targets) | ~scored
                right += (hit & scored).sum().item()
                answers += scored.sum().item()
                whole += hit.all(1).sum().item()
        return {"val_loss": loss_sum / answers, "val_acc": right / answers, "val_seq_acc": whole / n}

    @torch.no_grad()
    def examples(self, model: torch.nn.Module, n: int, device: torch.device) -> list[str]:
        """The first n test examples: each query key, its value and the model's answer."""
        batch = Batch(self.test.inputs[:n], self.test.targets[:n]).to(device)
        with eval_mode(model):
            pred = model(batch.inputs)[0].argmax(-1)
        lines = []
        for inputs, targets, guess in zip(batch.inputs.cpu(), batch.targets.cpu(), pred.cpu()):
            at = (targets != -100).nonzero().flatten().tolist()
            shown = [f"{inputs[t].item()}->{targets[t].item()}" + ("" if guess[t] == targets[t] else f" (model {guess[t].item()})")
                     for t in at]
            ok = all(guess[t] == targets[t] for t in at)
            lines.append(f"{len(at)} queries: {', '.join(shown)}   {'ok' if ok else 'WRONG'}")
        return lines

    def summary(self) -> dict[str, Any]:
        c = self.cfg
        return {"vocab_size": c.vocab_size, "kind": self.kind, "num_kv_pairs": self.pairs,
                "train_size": c.train_size or "stream", "test_size": c.test_size}


def config_vocab_size(cfg: Any) -> int:
    """The vocabulary MQAR's config fixes: task.vocab_size ids."""
    return int(cfg.vocab_size)
