"""Token ids as the text: for generated tasks whose tokens are numbers, not characters (MQAR's
8192-token vocabulary). "12 4107 9" <-> [12, 4107, 9]."""

from __future__ import annotations

from typing import Any

import numpy as np

from seqlab.errors import SeqlabError


class IdTokenizer:
    """`size` ids written as decimal numbers separated by spaces; no unknown id."""

    kind = "ids"
    unk_id = None
    banned_ids: list[int] = []

    def __init__(self, size: int) -> None:
        if size < 2:
            raise SeqlabError(f"a vocabulary of token ids needs at least 2 of them, got {size}")
        self.size = size
        self.dtype = np.uint16 if size <= 2**16 else np.uint32

    def __len__(self) -> int:
        return self.size

    def encode(self, text: str) -> np.ndarray:
        try:
            ids = np.array([int(word) for word in text.split()], dtype=np.int64)
        except ValueError:
            raise SeqlabError(f"this vocabulary reads token ids (numbers separated by spaces), not '{text[:40]}'") from None
        if ids.size and (ids.min() < 0 or ids.max() >= self.size):
            raise SeqlabError(f"token ids must be in 0..{self.size - 1}")
        return ids.astype(self.dtype)

    def decode(self, ids: Any) -> str:
        return " ".join(str(int(i)) for i in np.asarray(ids).ravel())

    def to_json(self) -> dict[str, Any]:
        return {"type": "ids", "size": self.size}
