"""Generators of the synthetic tasks, their vocabulary, and held-out sets disjoint from training.

Every generator maps (n, length, num_symbols, generator) to (source, target): int64 tensors
of symbol indices 0..K-1, computed from the source alone, so labels are right by
construction. `ExampleSource` turns a generator into a fixed test set per length plus
a training set (finite, or a fresh stream every batch) that never repeats a test source.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from seqlab.data.tokenizers.char import CharVocab
from seqlab.errors import SeqlabError

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


def parity(n: int, length: int, k: int, g: torch.Generator) -> tuple[Tensor, Tensor]:
    """Label = (number of symbols other than the first) mod 2: with K = 2, the parity of the ones."""
    x = _uniform(n, length, k, g)
    return x, ((x != 0).sum(1, keepdim=True) % 2)


def even_pairs(n: int, length: int, k: int, g: torch.Generator) -> tuple[Tensor, Tensor]:
    """Label = (neighbours that differ) mod 2: with K = 2, whether the count of 01 and 10 pairs is
    odd (Delétang et al.'s Even Pairs; 1 = odd). With two symbols: whether first != last."""
    x = _uniform(n, length, k, g)
    return x, ((x[:, 1:] != x[:, :-1]).sum(1, keepdim=True) % 2)


def cycle_navigation(n: int, length: int, k: int, g: torch.Generator) -> tuple[Tensor, Tensor]:
    """Moves on a cycle of K positions from position 0: symbol 0 steps back, 1 stays, 2 steps on
    (Delétang et al.'s move = symbol - 1); the label is the final position 0..K-1."""
    x = _uniform(n, length, 3, g)
    return x, ((x - 1).sum(1, keepdim=True) % k)


def copy(n: int, length: int, k: int, g: torch.Generator) -> tuple[Tensor, Tensor]:
    x = _uniform(n, length, k, g)
    return x, x.clone()


def reverse(n: int, length: int, k: int, g: torch.Generator) -> tuple[Tensor, Tensor]:
    x = _uniform(n, length, k, g)
    return x, x.flip(1)


def sort(n: int, length: int, k: int, g: torch.Generator) -> tuple[Tensor, Tensor]:
    x = _uniform(n, length, k, g)
    return x, x.sort(dim=1).values


def duplicate_string(n: int, length: int, k: int, g: torch.Generator) -> tuple[Tensor, Tensor]:
    """The target is the source twice, w w (2T symbols; Delétang et al.'s Duplicate String)."""
    x = _uniform(n, length, k, g)
    return x, torch.cat([x, x], dim=1)


def assoc_recall(n: int, pairs: int, k: int, g: torch.Generator) -> tuple[Tensor, Tensor]:
    """`k1 v1 k2 v2 ... kP vP q` with distinct keys; the target is the value stored under q."""
    if pairs > k:
        raise SeqlabError(f"assoc_recall needs distinct keys: length ({pairs}) must not exceed num_symbols ({k})")
    keys = torch.rand(n, k, generator=g).argsort(dim=1)[:, :pairs]  # (n, P) distinct per row
    values = _uniform(n, pairs, k, g)
    which = torch.randint(0, pairs, (n, 1), generator=g)
    source = torch.stack([keys, values], dim=2).flatten(1)  # (n, 2P): k1 v1 k2 v2 ...
    return torch.cat([source, keys.gather(1, which)], dim=1), values.gather(1, which)


def _space_uniform(length: int, k: int) -> float:
    return float(k) ** length


def _space_assoc(pairs: int, k: int) -> float:
    return math.perm(k, pairs) * float(k) ** pairs * pairs


def _space_moves(length: int, k: int) -> float:
    return 3.0 ** length


@dataclass(frozen=True)
class SyntheticSpec:
    """Everything that differs between the synthetic tasks, in one place."""

    generate: Callable[..., tuple[Tensor, Tensor]]
    """(n, length, K, generator) -> (source, target) symbol indices."""
    space: Callable[[int, int], float] = _space_uniform
    """(length, K) -> how many distinct sources there are."""
    one_answer: bool = False
    """The target is one symbol whatever the source length (else: `target_per_symbol` per source symbol)."""
    target_per_symbol: int = 1
    """Target symbols per source symbol when not one_answer (duplicate_string: 2)."""
    min_symbols: int = 1
    """The smallest alphabet K the task is defined on (cycle_navigation: its 3 moves)."""
    source_symbols: int | None = None
    """Sources use only the first this many symbols (cycle_navigation: the 3 moves); None: all K."""
    distinct_keys: bool = False
    """`length` counts key-value pairs with distinct keys: it may not exceed K."""
    source_rule: str | None = None
    """What a typed source must look like, when more than symbols: checked by `check_source`."""

    def target_length(self, source_symbols: int) -> int:
        return 1 if self.one_answer else self.target_per_symbol * source_symbols

    def space_size(self, length: int, k: int) -> float:
        """How many distinct sources the generator can produce (inf when astronomically many)."""
        try:
            return self.space(length, k)
        except OverflowError:
            return math.inf

    def check_lengths(self, lengths: list[int], k: int) -> None:
        if k < self.min_symbols:
            raise SeqlabError(f"this task needs task.num_symbols of at least {self.min_symbols}, got {k}")
        if self.distinct_keys and max(lengths) > k:
            raise SeqlabError(f"this task needs distinct keys: every length (pairs) must be at most "
                              f"num_symbols ({k}); got {max(lengths)}")

    def check_source(self, symbols: list[int]) -> None:
        """A typed source (symbol indices) fits the task: key-value tasks an odd count, a task of
        fewer source symbols only those."""
        if self.distinct_keys and len(symbols) % 2 == 0:
            raise SeqlabError(f"this task's source is {self.source_rule}: an odd number of symbols")
        if self.source_symbols is not None and max(symbols) >= self.source_symbols:
            raise SeqlabError(f"this task's source is {self.source_rule}")


SYNTHETIC: dict[str, SyntheticSpec] = {
    "first_token": SyntheticSpec(first_token, one_answer=True),
    "parity": SyntheticSpec(parity, one_answer=True),
    "even_pairs": SyntheticSpec(even_pairs, one_answer=True),
    "cycle_navigation": SyntheticSpec(cycle_navigation, _space_moves, one_answer=True, min_symbols=3,
                                      source_symbols=3, source_rule="moves 0 (back), 1 (stay) and 2 (on)"),
    "copy": SyntheticSpec(copy),
    "reverse": SyntheticSpec(reverse),
    "sort": SyntheticSpec(sort),
    "duplicate_string": SyntheticSpec(duplicate_string, target_per_symbol=2),
    "assoc_recall": SyntheticSpec(assoc_recall, _space_assoc, one_answer=True, distinct_keys=True,
                                  source_rule="k1 v1 ... kP vP q"),
}
"""The generated classify / seq2seq tasks by registry name (their kinds are on the registry)."""


def config_vocab_size(task_cfg: Any) -> int:
    """The vocabulary a generated task builds from its config: K symbols, SEP and the unknown id."""
    return len(symbol_vocab(task_cfg.num_symbols)[0])


def example_lengths(task_cfg: Any) -> tuple[int, int]:
    """(source, target) symbols of one example at task.length, from one draw of the task's own
    generator: what FLOPs are counted on before any data is built."""
    src, tgt = SYNTHETIC[task_cfg.name].generate(1, task_cfg.length, task_cfg.num_symbols,
                                                 torch.Generator().manual_seed(0))
    return src.size(1), tgt.size(1)


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
        spec = SYNTHETIC[name]
        self.gen, self.length, self.k = spec.generate, length, num_symbols
        self.lengths = sorted({length, *eval_lengths})
        spec.check_lengths(self.lengths, num_symbols)
        self.min_length = length if min_length is None else min_length
        if not 1 <= self.min_length <= length or (self.min_length < length and train_size):
            raise SeqlabError(f"task.min_length must be between 1 and task.length ({length}) and needs a "
                              f"streamed training set (train_size=0); got {min_length}")
        space = spec.space_size(length, num_symbols)
        if space < 2 * (test_size + train_size):
            raise SeqlabError(
                f"task {name} with length {length} and {num_symbols} symbols has only {space:.0f} distinct "
                f"sources, too few for test_size={test_size} + train_size={train_size} held apart")
        self._check_trained_lengths(spec, test_size)
        g = torch.Generator().manual_seed(data_generator_seed(data_seed))
        self.test = {L: self.gen(test_size, L, num_symbols, g) for L in self.lengths}
        # every test set is held out (keys of different lengths never collide)
        self.test_keys = {key for L in self.lengths for key in row_keys(self.test[L][0])}
        self.train = draw(self.gen, train_size, length, num_symbols, g, self.test_keys) if train_size else None

    def _check_trained_lengths(self, spec: SyntheticSpec, test_size: int) -> None:
        """An evaluated length that is also trained on (min_length..length) must leave sources to train on."""
        for L in self.lengths:
            space = spec.space_size(L, self.k)
            if self.min_length <= L < self.length and space < 2 * test_size:
                raise SeqlabError(f"task.eval_lengths: length {L} has only {space:.0f} distinct sources, too few "
                                  f"to hold {test_size} apart from training on lengths {self.min_length}-"
                                  f"{self.length}; evaluate longer lengths or lower task.test_size")

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
