"""Prepared corpora on disk: flat token files read through `np.memmap`.

Layout of one cache entry (the key hashes the source's fingerprint, the caps and the
tokenizer settings):

    <cache_dir>/tinystories-<key>/meta.json        format, source, caps, tokenizer (its JSON),
                                                    per split: file, dtype, tokens, chars,
                                                    bytes, unknown, sha256
    <cache_dir>/tinystories-<key>/train.bin        token ids, raw little-endian uint8/uint16
    <cache_dir>/tinystories-<key>/validation.bin
    <cache_dir>/tinystories-<key>.lock             held (flock) by the process preparing it

Guarantees: an entry is written in a `.tmp-*` folder next to it and renamed into place
when complete, so a crash leaves no half entry under the real name. Every read checks each
file's size and sha256 against meta.json; an entry that fails (truncated, bytes changed,
meta missing or unreadable) is not used: the caller rebuilds it. Processes preparing the
same entry take turns on the lock, so the second finds the first's entry and reuses it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from seqlab.errors import SeqlabError

FORMAT_VERSION = 2
META = "meta.json"
HASH_BLOCK = 1 << 24  # 16 MiB per read while hashing: bounded memory
IN_MEMORY_BYTES = 1 << 26  # splits up to 64 MiB are read whole: mapping per batch costs ~0.5 ms a step


class TokenFile:
    """A split's token file, indexed like an array and read through `np.memmap`.

    The file is mapped for each read and unmapped after it (nanoGPT's convention): a read
    costs only the pages it touches, and they leave the process's resident set with the
    mapping. A mapping kept open would count every page ever touched (the kernel maps
    whole 2 MB page-cache folios per fault), so memory would grow with the corpus.
    """

    def __init__(self, path: Path, dtype: Any, length: int) -> None:
        self.path, self.dtype, self.length = path, np.dtype(dtype), length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: Any) -> np.ndarray:
        if self.length == 0:
            return np.zeros(0, dtype=self.dtype)[index]
        mapped = np.memmap(self.path, dtype=self.dtype, mode="r", shape=(self.length,))
        try:
            return np.array(mapped[index])  # a copy: nothing keeps the mapping alive
        finally:
            del mapped

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        """The whole split in memory (for small splits and tests)."""
        return self[:] if dtype is None else self[:].astype(dtype)


@dataclass
class CacheEntry:
    """A verified entry: its folder and meta; `tokens(split)` is a split's TokenFile."""

    folder: Path
    meta: dict[str, Any]
    built: bool = False
    """True when this process prepared it (False: found in the cache)."""

    def tokens(self, split: str) -> TokenFile | np.ndarray:
        """A split's tokens: read into memory when the file is small (IN_MEMORY_BYTES: then a batch
        costs no mapping), else a TokenFile mapped per read, so memory stays bounded either way."""
        info = self.meta["splits"][split]
        path, dtype = self.folder / info["file"], np.dtype(info["dtype"])
        if info["tokens"] * dtype.itemsize <= IN_MEMORY_BYTES:
            return np.fromfile(path, dtype=dtype, count=info["tokens"])
        return TokenFile(path, dtype, info["tokens"])

    def split_info(self, split: str) -> dict[str, Any]:
        return self.meta["splits"][split]


def entry_folder(cache_dir: str, key: str) -> Path:
    return Path(cache_dir).expanduser() / f"tinystories-{key}"


def read_entry(folder: Path) -> CacheEntry | None:
    """The entry at `folder` if it is complete and intact, else None (a miss or damage)."""
    try:
        meta = json.loads((folder / META).read_text())
        if meta.get("format_version") != FORMAT_VERSION:
            return None
        for info in meta["splits"].values():
            path = folder / info["file"]
            if path.stat().st_size != info["tokens"] * np.dtype(info["dtype"]).itemsize:
                return None
            if file_sha256(path) != info["sha256"]:
                return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return CacheEntry(folder, meta)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


class SplitWriter:
    """Appends id arrays to one token file, hashing and counting as it goes."""

    def __init__(self, path: Path, dtype: Any) -> None:
        self.path, self.dtype = path, np.dtype(dtype).newbyteorder("<")
        self._file = open(path, "wb")
        self._digest = hashlib.sha256()
        self.tokens = self.chars = self.bytes = self.unknown = 0

    def append(self, ids: np.ndarray, chars: int, nbytes: int, unknown: int) -> None:
        data = np.ascontiguousarray(ids, dtype=self.dtype).tobytes()
        self._file.write(data)
        self._digest.update(data)
        self.tokens += len(ids)
        self.chars, self.bytes, self.unknown = self.chars + chars, self.bytes + nbytes, self.unknown + unknown

    def close(self) -> dict[str, Any]:
        """Flushed to disk; returns the split's meta."""
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        return {"file": self.path.name, "dtype": self.dtype.str, "tokens": self.tokens, "chars": self.chars,
                "bytes": self.bytes, "unknown": self.unknown, "sha256": self._digest.hexdigest()}


@contextlib.contextmanager
def entry_lock(folder: Path) -> Iterator[None]:
    """Held while one process checks and (re)builds the entry; others wait here."""
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        handle = open(folder.parent / f"{folder.name}.lock", "a")
    except OSError as err:
        raise SeqlabError(f"task.cache_dir '{folder.parent}' is not writable ({err.strerror}); "
                          "point task.cache_dir (or SEQLAB_CACHE) at a writable folder") from None
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def new_temp_folder(folder: Path) -> Path:
    return Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".tmp-{folder.name}-"))


def publish(tmp: Path, folder: Path, meta: dict[str, Any]) -> None:
    """Write meta.json last, then rename the finished folder into place (a damaged entry is moved aside)."""
    (tmp / META).write_text(json.dumps(meta))
    if folder.exists():
        aside = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".old-{folder.name}-"))
        os.replace(folder, aside / "entry")
        shutil.rmtree(aside, ignore_errors=True)
    os.replace(tmp, folder)
