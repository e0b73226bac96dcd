"""Generators of the synthetic tasks, their vocabulary, and held-out sets disjoint from training.

Every generator maps (n, length, num_symbols, generator) to (source, target): int64 tensors
of symbol indices 0..K-1, computed from the source alone, so labels are right by
construction. `ExampleSource` turns a generator into a fixed test set per length plus
a training set (finite, or a fresh stream every batch) that never repeats a test source.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from seqlab.errors import SeqlabError
from seqlab.tasks.vocab import CharVocab

Tensor = torch.Tensor
SYMBOLS = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
SEP = "="
"""Separates source and target for decoder-only models; also the decoder's start token."""


def symbol_vocab(num_symbols: int) -> tuple[CharVocab, Tensor]:
    """A CharVocab over the first K symbols and SEP, and the (K,) vocab ids of the symbols."""
    if not 1 <= num_symbols <= len(SYMBOLS):
        raise SeqlabError(f"task.num_symbols must be in 1..{len(SYMBOLS)}, got {num_symbols}")
    symbols = SYMBOLS[:num_symbols]
    vocab = CharVocab(symbols + SEP)
    return vocab, torch.from_numpy(vocab.encode(symbols).astype("int64"))


def _uniform(n: int, length: int, k: int, g: torch.Generator) -> Tensor:
    return torch.randint(0, k, (n, length), generator=g)


def first_token(n: int, length: int, k: int, g: torch.Generator) -> tuple[Tensor, Tensor]:
    x = _uniform(n, length, k, g)
    return x, x[:, :1].clone()


def copy(n: int, length: int, k: int, g: torch.Generator) -> tuple[Tensor, Tensor]:
    x = _uniform(n, length, k, g)
    return x, x.clone()


def reverse(n: int, length: int, k: int, g: torch.Generator) -> tuple[Tensor, Tensor]:
    x = _uniform(n, length, k, g)
    return x, x.flip(1)


def sort(n: int, length: int, k: int, g: torch.Generator) -> tuple[Tensor, Tensor]:
    x = _uniform(n, length, k, g)
    return x, x.sort(dim=1).values


def assoc_recall(n: int, pairs: int, k: int, g: torch.Generator) -> tuple[Tensor, Tensor]:
    """`k1 v1 k2 v2 ... kP vP q` with distinct keys; the target is the value stored under q."""
    if pairs > k:
        raise SeqlabError(f"assoc_recall needs distinct keys: length ({pairs}) must not exceed num_symbols ({k})")
    keys = torch.rand(n, k, generator=g).argsort(dim=1)[:, :pairs]  # (n, P) distinct per row
    values = _uniform(n, pairs, k, g)
    which = torch.randint(0, pairs, (n, 1), generator=g)
    source = torch.stack([keys, values], dim=2).flatten(1)  # (n, 2P): k1 v1 k2 v2 ...
    return torch.cat([source, keys.gather(1, which)], dim=1), values.gather(1, which)


GENERATORS: dict[str, Callable[..., tuple[Tensor, Tensor]]] = {
    "first_token": first_token, "copy": copy, "reverse": reverse, "sort": sort,
    "assoc_recall": assoc_recall,
}


def space_size(name: str, length: int, k: int) -> float:
    """How many distinct sources the generator can produce (inf when astronomically many)."""
    try:
        if name == "assoc_recall":
            return math.perm(k, length) * float(k) ** length * length
        return float(k) ** length
    except OverflowError:
        return math.inf


def row_keys(rows: Tensor) -> list[bytes]:
    """One hashable key per row (its bytes): for set membership of whole sequences."""
    data = rows.to(torch.uint8).contiguous().numpy()  # symbol indices are < 62
    return [r.tobytes() for r in data]


def draw(gen: Callable[..., tuple[Tensor, Tensor]], n: int, length: int, k: int, g: torch.Generator,
         exclude: set[bytes], what: str = "examples") -> tuple[Tensor, Tensor]:
    """n examples whose sources are not in `exclude` (rejection sampling)."""
    srcs, tgts, have = [], [], 0
    for _ in range(50):
        src, tgt = gen(n - have, length, k, g)
        if exclude:
            keep = torch.tensor([key not in exclude for key in row_keys(src)])
            src, tgt = src[keep], tgt[keep]
        srcs.append(src[: n - have])
        tgts.append(tgt[: n - have])
        have += len(srcs[-1])
        if have == n:
            return torch.cat(srcs), torch.cat(tgts)
    raise SeqlabError(f"could not draw {n} {what} outside the test set: too few distinct sources; "
                      f"raise task.length or task.num_symbols, or lower task.test_size")


def data_generator_seed(data_seed: int) -> int:
    """The seed of the held-out data, scrambled: a training stream seeded with the same
    number as `data_seed` must not replay the test set."""
    return (data_seed * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019) % 2**63


class ExampleSource:
    """Test sets per length (fixed by `data_seed`) and training examples never in the test set.

    train_size > 0 draws that many training examples once (from the same seed, after the
    test set); 0 draws a fresh batch from the engine's generator at every step.
    """

    def __init__(self, name: str, length: int, num_symbols: int, train_size: int, test_size: int,
                 eval_lengths: list[int], data_seed: int, min_length: int | None = None) -> None:
        for key, value, low in (("length", length, 1), ("test_size", test_size, 1), ("train_size", train_size, 0)):
            if value < low:
                raise SeqlabError(f"task.{key} must be at least {low}, got {value}")
        if any(L < 1 for L in eval_lengths):
            raise SeqlabError(f"task.eval_lengths must be positive, got {list(eval_lengths)}")
        self.gen, self.length, self.k = GENERATORS[name], length, num_symbols
        self.lengths = sorted({length, *eval_lengths})
        if name == "assoc_recall" and self.lengths[-1] > num_symbols:
            raise SeqlabError(f"assoc_recall needs distinct keys: every length (pairs) must be at most "
                              f"num_symbols ({num_symbols}); got {self.lengths[-1]}")
        space = space_size(name, length, num_symbols)
        if space < 2 * (test_size + train_size):
            raise SeqlabError(
                f"task {name} with length {length} and {num_symbols} symbols has only {space:.0f} distinct "
                f"sources, too few for test_size={test_size} + train_size={train_size} held apart")
        g = torch.Generator().manual_seed(data_generator_seed(data_seed))
        self.test = {L: self.gen(test_size, L, num_symbols, g) for L in self.lengths}
        # every test set is held out (keys of different lengths never collide)
        self.test_keys = {key for L in self.lengths for key in row_keys(self.test[L][0])}
        self.train = draw(self.gen, train_size, length, num_symbols, g, self.test_keys) if train_size else None
        self.min_length = length if min_length is None else min_length
        if not 1 <= self.min_length <= length or (self.min_length < length and train_size):
            raise SeqlabError(f"task.min_length must be between 1 and task.length ({length}) and needs a "
                              f"streamed training set (train_size=0); got {min_length}")

    def train_examples(self, n: int, g: torch.Generator) -> tuple[Tensor, Tensor]:
        """n training examples; with min_length < length, of one length drawn uniformly per batch
        (length-bucketed batches: no padding, every token of every example is real)."""
        if self.train is None:
            length = self.length
            if self.min_length < self.length:  # only then: default streams stay as they were
                length = int(torch.randint(self.min_length, self.length + 1, (1,), generator=g))
            return draw(self.gen, n, length, self.k, g, self.test_keys)
        idx = torch.randint(0, len(self.train[0]), (n,), generator=g)
        return self.train[0][idx], self.train[1][idx]
