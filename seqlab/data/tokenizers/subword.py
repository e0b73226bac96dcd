"""Tokenizers beyond characters: `byte` (UTF-8 bytes, 256 ids) and `bpe` (byte-level BPE).

Both offer CharVocab's surface (seqlab/data/tokenizers/char.py), so tasks, sampling, evaluation and
checkpoints use any of the three alike; `to_json` holds everything needed to rebuild one
(a BPE tokenizer's whole Hugging Face `tokenizers` JSON), so a run folder stays
self-contained.

BPE rule: the text is split after every newline and the pieces are encoded separately, so
no token crosses a newline and encoding a text in chunks that end at newlines (as
preparation does) gives the same ids as encoding it whole.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import cached_property
from typing import Any

import numpy as np

from seqlab.errors import SeqlabError

KINDS = ("char", "byte", "bpe")
MAX_BPE_VOCAB = 65536  # ids stored as uint16
MIN_BPE_VOCAB = 257  # the 256 byte symbols + at least one merge


def utf8_chars_per_byte(values: np.ndarray) -> np.ndarray:
    """1 for a byte that starts a character, 0 for a UTF-8 continuation byte (10xxxxxx)."""
    return ((np.asarray(values) & 0xC0) != 0x80).astype(np.int64)


class ByteTokenizer:
    """UTF-8 bytes as ids 0-255: nothing is unknown, nothing to learn."""

    kind = "byte"
    unk_id = None
    banned_ids: list[int] = []
    dtype = np.uint8

    def __len__(self) -> int:
        return 256

    @property
    def token_bytes(self) -> np.ndarray:
        return np.ones(256, dtype=np.int64)

    @property
    def token_chars(self) -> np.ndarray:
        return utf8_chars_per_byte(np.arange(256))

    def encode(self, text: str) -> np.ndarray:
        return np.frombuffer(text.encode("utf-8"), dtype=np.uint8).copy()

    def decode(self, ids) -> str:
        # Sampled bytes need not form valid UTF-8: show U+FFFD where they do not.
        return bytes(np.asarray(ids, dtype=np.uint8).tolist()).decode("utf-8", errors="replace")

    def unknown(self, text: str) -> list[str]:
        return []

    def count_unknown(self, ids: np.ndarray) -> int:
        return 0

    def to_json(self) -> dict:
        return {"type": "byte"}


class BPETokenizer:
    """A byte-level BPE tokenizer (Hugging Face `tokenizers`): every text encodes, no unknowns."""

    kind = "bpe"
    unk_id = None
    banned_ids: list[int] = []

    def __init__(self, tokenizer: Any) -> None:
        self._tok = tokenizer

    def __len__(self) -> int:
        return self._tok.get_vocab_size()

    @property
    def dtype(self) -> type:
        return np.uint16

    @cached_property
    def _token_byte_values(self) -> list[bytes]:
        inverse = {ch: b for b, ch in _byte_to_unicode().items()}
        by_id = sorted(self._tok.get_vocab().items(), key=lambda item: item[1])
        return [bytes(inverse[ch] for ch in token) for token, _ in by_id]

    @property
    def token_bytes(self) -> np.ndarray:
        return np.array([len(b) for b in self._token_byte_values], dtype=np.int64)

    @property
    def token_chars(self) -> np.ndarray:
        return np.array([int(utf8_chars_per_byte(np.frombuffer(b, np.uint8)).sum())
                         for b in self._token_byte_values], dtype=np.int64)

    def encode(self, text: str) -> np.ndarray:
        pieces = newline_pieces(text)
        encoded = self._tok.encode_batch(pieces, add_special_tokens=False) if pieces else []
        ids = [np.asarray(e.ids, dtype=self.dtype) for e in encoded]
        return np.concatenate(ids) if ids else np.zeros(0, dtype=self.dtype)

    def decode(self, ids) -> str:
        return self._tok.decode(np.asarray(ids, dtype=np.int64).tolist(), skip_special_tokens=False)

    def unknown(self, text: str) -> list[str]:
        return []

    def count_unknown(self, ids: np.ndarray) -> int:
        return 0

    def to_json(self) -> dict:
        return {"type": "bpe", "tokenizer": self._tok.to_str()}


def newline_pieces(text: str) -> list[str]:
    """`text` cut after every newline (the BPE rule: no token crosses one)."""
    pieces = text.split("\n")
    out = [p + "\n" for p in pieces[:-1]]
    if pieces[-1]:
        out.append(pieces[-1])
    return out


def train_bpe(texts: Iterable[str], vocab_size: int) -> BPETokenizer:
    """A byte-level BPE of `vocab_size` ids learnt from the texts (streamed, pieces per newline)."""
    check_bpe_vocab_size(vocab_size)
    _require_tokenizers()
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(_pieces(texts), trainer=trainer)
    return BPETokenizer(tok)


def _pieces(texts: Iterable[str]) -> Iterator[list[str]]:
    for text in texts:
        yield newline_pieces(text)


def _require_tokenizers() -> None:
    try:
        import tokenizers  # noqa: F401
    except ImportError:
        raise SeqlabError("task.tokenizer=bpe needs Hugging Face tokenizers: pip install 'seqlab[bpe]' "
                          "(or pip install tokenizers)") from None


def check_bpe_vocab_size(vocab_size: int) -> None:
    if not MIN_BPE_VOCAB <= vocab_size <= MAX_BPE_VOCAB:
        raise SeqlabError(f"task.vocab_size must be in [{MIN_BPE_VOCAB}, {MAX_BPE_VOCAB}] for "
                          f"task.tokenizer=bpe, got {vocab_size}")


def tokenizer_from_json(data: dict) -> Any:
    """A tokenizer back from its `to_json()` (char, byte, bpe or ids)."""
    kind = data.get("type", "char")
    if kind == "char":
        from seqlab.data.tokenizers.char import CharVocab

        return CharVocab(data["chars"])
    if kind == "byte":
        return ByteTokenizer()
    if kind == "bpe":
        _require_tokenizers()
        from tokenizers import Tokenizer

        return BPETokenizer(Tokenizer.from_str(data["tokenizer"]))
    if kind == "ids":  # a generated task's numbered tokens (MQAR)
        from seqlab.data.tokenizers.ids import IdTokenizer

        return IdTokenizer(data["size"])
    raise SeqlabError(f"unknown tokenizer type '{kind}' (this seqlab knows {', '.join(KINDS)}, ids)")


def _byte_to_unicode() -> dict[int, str]:
    """GPT-2's byte -> printable character table, which byte-level BPE tokens are spelt in."""
    visible = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    table, extra = {b: chr(b) for b in visible}, 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + extra)
            extra += 1
    return table
