"""Tokenizers: text <-> ids. `char` (char.py: sorted characters + an unknown id), `byte` and
`bpe` (subword.py: UTF-8 bytes, byte-level BPE). Every one offers the `Tokenizer` surface, so
tasks, sampling, evaluation and checkpoints use them alike; `CharVocab.from_json` reads any of
them back from its `to_json()`.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np


class Tokenizer(Protocol):
    """What every tokenizer offers (CharVocab, ByteTokenizer, BPETokenizer)."""

    kind: str
    """`char`, `byte` or `bpe`: the `task.tokenizer` value that builds it."""
    unk_id: int | None
    """The id of text it cannot encode (characters only validation or a prompt has); None: no unknowns."""
    banned_ids: list[int]
    """Ids never sampled (the unknown id)."""
    dtype: Any
    """The smallest numpy integer type that holds every id (cache entries are stored in it)."""

    def __len__(self) -> int: ...

    def encode(self, text: str) -> np.ndarray: ...

    def decode(self, ids: Any) -> str: ...

    def to_json(self) -> dict[str, Any]:
        """Everything needed to rebuild it (saved in checkpoints and cache entries)."""
        ...


def same_tokenizer(a: Tokenizer, b: Tokenizer) -> bool:
    """Whether two tokenizers map text to the same ids (equal saved forms)."""
    return a.to_json() == b.to_json()
