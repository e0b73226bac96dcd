"""Character vocabulary with an unknown id, encoded and decoded without Python loops."""

from __future__ import annotations

import numpy as np

UNK = "\ufffd"  # shown for the unknown id when decoding


class CharVocab:
    """Sorted characters of the training text; id len(chars) is the unknown character."""

    def __init__(self, chars: str) -> None:
        if len(set(chars)) != len(chars):
            raise ValueError("vocabulary characters must be distinct")
        self.chars = "".join(sorted(chars))
        # Code points, sorted, so encoding is one np.searchsorted over the whole text.
        self._codes = _code_points(self.chars)
        self._decode = np.array(list(self.chars) + [UNK], dtype=object)

    @classmethod
    def from_text(cls, text: str) -> CharVocab:
        return cls("".join(chr(c) for c in np.unique(_code_points(text))))

    def __len__(self) -> int:
        return len(self.chars) + 1  # + the unknown id

    @property
    def unk_id(self) -> int:
        return len(self.chars)

    @property
    def dtype(self) -> type:
        return np.uint8 if len(self) <= 256 else np.uint16

    def encode(self, text: str) -> np.ndarray:
        """Ids of `text`; characters outside the vocabulary become `unk_id`."""
        codes = _code_points(text)
        ids = np.searchsorted(self._codes, codes)
        ids = np.minimum(ids, len(self._codes) - 1) if len(self._codes) else ids
        known = (self._codes[ids] == codes) if len(self._codes) else np.zeros(len(codes), bool)
        return np.where(known, ids, self.unk_id).astype(self.dtype)

    def decode(self, ids) -> str:
        return "".join(self._decode[np.asarray(ids, dtype=np.int64)])

    def unknown(self, text: str) -> list[str]:
        """The distinct characters of `text` that are not in the vocabulary, sorted."""
        codes = np.unique(_code_points(text))
        return [chr(c) for c in codes if chr(c) not in self.chars]

    def to_json(self) -> dict:
        return {"type": "char", "chars": self.chars}

    @classmethod
    def from_json(cls, data: dict) -> CharVocab:
        return cls(data["chars"])


def _code_points(text: str) -> np.ndarray:
    # UTF-32 gives one fixed-width integer per character: a vectorised ord().
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
