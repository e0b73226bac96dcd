"""Character vocabulary with an unknown id, encoded and decoded without Python loops.

Every tokenizer (this one, and byte / BPE in seqlab/data/tokenizers.py) offers the same
surface: encode, decode, unknown, unk_id, banned_ids, token_bytes, token_chars, dtype,
to_json, and `CharVocab.from_json` reads any of them back (checkpoints call it).
"""

from __future__ import annotations

from typing import Any

import numpy as np

UNK = "\ufffd"  # shown for the unknown id when decoding
CODE_POINTS = 0x110000  # every Unicode code point is below this


class CharVocab:
    """Sorted characters of the training text; id len(chars) is the unknown character."""

    kind = "char"

    def __init__(self, chars: str) -> None:
        if len(set(chars)) != len(chars):
            raise ValueError("vocabulary characters must be distinct")
        self.chars = "".join(sorted(chars))
        self._codes = code_points(self.chars)
        self._decode = np.array(list(self.chars) + [UNK], dtype=object)
        # A table from every code point to its id (1-2 MB): encoding is one gather.
        self._lookup = np.full(CODE_POINTS, self.unk_id, dtype=self.dtype)
        self._lookup[self._codes] = np.arange(len(self._codes), dtype=self.dtype)

    @classmethod
    def from_text(cls, text: str) -> CharVocab:
        return cls.from_code_points(np.unique(code_points(text)))

    @classmethod
    def from_code_points(cls, codes: np.ndarray) -> CharVocab:
        """The vocabulary of these (distinct) code points."""
        return cls("".join(chr(c) for c in np.asarray(codes).tolist()))

    def __len__(self) -> int:
        return len(self.chars) + 1  # + the unknown id

    @property
    def unk_id(self) -> int:
        return len(self.chars)

    @property
    def banned_ids(self) -> list[int]:
        """Ids never sampled: the unknown character."""
        return [self.unk_id]

    @property
    def dtype(self) -> type:
        return np.uint8 if len(self) <= 256 else np.uint16

    @property
    def token_bytes(self) -> np.ndarray:
        """UTF-8 bytes per id (the unknown id counts as U+FFFD's 3: its character is lost)."""
        return np.array([len(c.encode()) for c in self._decode], dtype=np.int64)

    @property
    def token_chars(self) -> np.ndarray:
        """Characters per id: one each."""
        return np.ones(len(self), dtype=np.int64)

    def encode(self, text: str) -> np.ndarray:
        """Ids of `text`; characters outside the vocabulary become `unk_id`."""
        return self._lookup[code_points(text)]

    def decode(self, ids) -> str:
        return "".join(self._decode[np.asarray(ids, dtype=np.int64)])

    def unknown(self, text: str) -> list[str]:
        """The distinct characters of `text` that are not in the vocabulary, sorted."""
        codes = np.unique(code_points(text))
        return [chr(c) for c in codes if chr(c) not in self.chars]

    def count_unknown(self, ids: np.ndarray) -> int:
        return int((np.asarray(ids) == self.unk_id).sum())

    def to_json(self) -> dict:
        return {"type": "char", "chars": self.chars}

    @classmethod
    def from_json(cls, data: dict) -> Any:
        """Any saved tokenizer: a char vocabulary here, byte / bpe from seqlab.data.tokenizers.

        The one entry point for reading a tokenizer back (checkpoints, cache entries).
        """
        if data.get("type", "char") != "char":
            from seqlab.data.tokenizers.subword import tokenizer_from_json

            return tokenizer_from_json(data)
        return cls(data["chars"])


def code_points(text: str) -> np.ndarray:
    """Code points of `text` as uint32, one per character."""
    # UTF-32 gives one fixed-width integer per character: a vectorised ord().
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
