"""The synthetic tasks of seeds 000-004 and of the length-generalisation experiment (Delétang et
al. 2023's Even Pairs, Cycle Navigation, Duplicate String), as registry builders, and `translate`
for `seqlab sample`.

| task             | kind     | source (length T, K symbols)      | target                     |
|------------------|----------|-----------------------------------|----------------------------|
| first_token      | classify | T random symbols (K=2: bits)      | the first symbol           |
| parity           | classify | T random symbols (K=2: bits)      | non-zero symbols mod 2     |
| even_pairs       | classify | T random symbols (K=2: bits)      | differing neighbours mod 2 |
| cycle_navigation | classify | T moves 0/1/2 (back, stay, on)    | end position on a K-cycle  |
| copy             | seq2seq  | T random symbols                  | the same T symbols         |
| reverse          | seq2seq  | T random symbols                  | them reversed              |
| sort             | seq2seq  | T random symbols                  | them sorted                |
| duplicate_string | seq2seq  | T random symbols                  | them twice (2T symbols)    |
| assoc_recall     | seq2seq  | k1 v1 ... kT vT q (distinct keys) | the value stored under q   |
| repeat           | lm       | windows of a periodic string      | the next character         |

Symbols are the characters 0-9, a-z, A-Z; `=` separates source and target for decoder-only
models and starts the decoder of an encoder-decoder. The vocabulary is a plain CharVocab,
so checkpoints round-trip with CharVocab.to_json/from_json.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F

from seqlab.data.tokenizers.char import CharVocab
from seqlab.errors import SeqlabError
from seqlab.models.generate import generate
from seqlab.models.modes import eval_mode
from seqlab.tasks.base import Batch, Task
from seqlab.tasks.seq2seq_task import SyntheticTask, context_length, predict
from seqlab.tasks.synthetic_data import (
    SEP,
    SYMBOLS,
    SYNTHETIC,
    ExampleSource,
    copy,
    data_generator_seed,
    draw,
    row_keys,
    symbol_vocab,
)

if TYPE_CHECKING:
    from seqlab.models.spec import ModelSpec

LN2 = 0.6931471805599453


def build_synthetic(cfg: Any) -> SyntheticTask:
    """A classify or seq2seq task of SYNTHETIC (cfg.name) from a SyntheticConfig."""
    from seqlab.tasks import TASKS

    if cfg.name not in SYNTHETIC:
        raise SeqlabError(f"build_synthetic cannot build task '{cfg.name}'")
    vocab, symbol_ids = symbol_vocab(cfg.num_symbols)
    data = ExampleSource(cfg.name, cfg.length, cfg.num_symbols, cfg.train_size, cfg.test_size,
                         list(cfg.eval_lengths or []), cfg.data_seed, cfg.min_length)
    facts = {"train_size": cfg.train_size or "stream", "test_size": cfg.test_size, "eval_lengths": data.lengths}
    return SyntheticTask(cfg.name, TASKS[cfg.name].kind, data, vocab, symbol_ids, facts)


class RepeatTask(Task):
    """Next-character prediction on a periodic string: the seed's fixed "abca " or a fresh
    random pattern per example (then it is in-context copying). Only targets with a full
    period of context before them are scored: they are the predictable ones."""

    kind = "lm"
    headline = "val_acc"

    def __init__(self, cfg: Any) -> None:
        self.name = cfg.name
        self.seq_len = cfg.seq_len
        if cfg.pattern:
            self.vocab = CharVocab.from_text(cfg.pattern)
            self.pattern = torch.from_numpy(self.vocab.encode(cfg.pattern).astype("int64"))
            self.period = len(cfg.pattern)
        else:
            self.vocab, self.symbol_ids = symbol_vocab(cfg.num_symbols)
            self.pattern, self.period, self.k = None, cfg.period, cfg.num_symbols
        if self.period < 1 or self.seq_len < self.period:
            raise SeqlabError(f"task.seq_len ({self.seq_len}) must be at least the period ({self.period})")
        g = torch.Generator().manual_seed(data_generator_seed(cfg.data_seed))
        if self.pattern is None:  # held-out patterns, never drawn for training
            test = copy(cfg.test_size, self.period, self.k, g)[0]
            self.test_keys = set(row_keys(test))
            self.test = self._windows(self.symbol_ids[test], torch.zeros(len(test), dtype=torch.long))
        else:  # one window per phase: the whole (finite) distribution
            phases = torch.arange(self.period)
            self.test = self._windows(self.pattern.expand(self.period, -1), phases)

    def _windows(self, patterns: torch.Tensor, offsets: torch.Tensor) -> Batch:
        idx = (offsets[:, None] + torch.arange(self.seq_len + 1)) % patterns.size(1)
        seq = patterns.gather(1, idx)
        targets = seq[:, 1:].clone()
        targets[:, : self.period - 1] = -100  # not yet determined by the context
        return Batch(seq[:, :-1], targets)

    def train_batch(self, batch_size: int, generator: torch.Generator) -> Batch:
        if self.pattern is None:
            patterns = draw(copy, batch_size, self.period, self.k, generator, self.test_keys)[0]
            return self._windows(self.symbol_ids[patterns], torch.zeros(batch_size, dtype=torch.long))
        offsets = torch.randint(0, self.period, (batch_size,), generator=generator)
        return self._windows(self.pattern.expand(batch_size, -1), offsets)

    def loss(self, model: torch.nn.Module, batch: Batch) -> torch.Tensor:
        logits, _ = model(batch.inputs)
        return F.cross_entropy(logits.flatten(0, 1).float(), batch.targets.flatten(), ignore_index=-100)

    def context_length(self, length: int | None = None) -> int:
        return self.seq_len

    @torch.no_grad()
    def evaluate(self, model: torch.nn.Module, batch_size: int, num_batches: int | None,
                 device: torch.device) -> dict[str, float]:
        """val_loss / val_bpc, and teacher-forced next-character val_acc and val_seq_acc (whole window)."""
        batch = self.test.to(device)
        with eval_mode(model):
            logits, _ = model(batch.inputs)
            loss = self.loss(model, batch).item()
        scored = batch.targets != -100
        right = (logits.argmax(-1) == batch.targets) & scored
        return {"val_loss": loss, "val_bpc": loss / LN2, "val_acc": (right.sum() / scored.sum()).item(),
                "val_seq_acc": (right.sum(1) == scored.sum(1)).float().mean().item()}

    @torch.no_grad()
    def examples(self, model: torch.nn.Module, n: int, device: torch.device) -> list[str]:
        """samples.txt: the first period of a held-out window, then the model's greedy continuation."""
        prompt = self.test.inputs[:n, : self.period].to(device)
        out = generate(model, prompt, self.seq_len - self.period, temperature=0)
        return [f"{self.vocab.decode(p.tolist())!r} -> {self.vocab.decode(o.tolist())!r}"
                for p, o in zip(prompt.cpu(), out.cpu())]

    def summary(self) -> dict[str, Any]:
        return {"vocab_size": len(self.vocab), "kind": self.kind, "period": self.period,
                "test_windows": len(self.test.inputs)}


def build_repeat(cfg: Any) -> RepeatTask:
    return RepeatTask(cfg)


def parse_source(vocab: CharVocab, text: str) -> list[str]:
    """"3 1 4 1 5" or "31415" -> ["3", "1", "4", "1", "5"], every one a symbol of the vocabulary."""
    text = text.strip()
    symbols = text.split() if any(c.isspace() for c in text) else list(text)
    alphabet = vocab.chars.replace(SEP, "")
    bad = [s for s in symbols if len(s) != 1 or s not in alphabet]
    if not symbols or bad:
        raise SeqlabError(f"--source must be symbols of this run's alphabet '{alphabet}', one character "
                          f"each (e.g. \"{' '.join(alphabet[:5])}\"); got {text!r}")
    return symbols


@torch.no_grad()
def translate(model: torch.nn.Module, vocab: CharVocab, source_text: str, task: str,
              model_cfg: Any, family: ModelSpec, device: torch.device | str = "cpu") -> str:
    """The model's greedy output for a source typed by a user, symbols separated by spaces.

    `task` is the run's task name (checkpoint meta["task"]) and `model_cfg` its model config:
    the task's spec says how long the output is (copy/reverse/sort: as long as the source;
    duplicate_string: twice as long; the classify tasks and assoc_recall: one symbol), the
    model's spec (`family`) how it is fed.
    """
    from seqlab.tasks import TASKS

    spec = SYNTHETIC.get(task)
    if spec is None:
        raise SeqlabError(f"--source needs a classify or seq2seq run; this run's task '{task}' is not one "
                          "(use --prompt)")
    kind = TASKS[task].kind
    symbols = parse_source(vocab, source_text)
    spec.check_source([SYMBOLS.index(s) for s in symbols])
    source = torch.from_numpy(vocab.encode("".join(symbols)).astype("int64"))[None].to(device)
    steps = spec.target_length(len(symbols))
    block = model_cfg.block_size if family.bounded_context else None
    need = context_length(kind, len(symbols), steps, family.encoder_decoder)
    if block is not None and need > block:
        raise SeqlabError(f"a source of {len(symbols)} symbols needs {need} positions; the model holds {block}")
    with eval_mode(model):
        out = predict(model, source, steps, kind, int(vocab.encode(SEP)[0]), family.encoder_decoder)
    return " ".join(vocab.decode(out[0].tolist()))
