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
Only the holder of an entry's lock writes its `.tmp-*` (and `.old-*`) folders, so one whose
lock nobody holds was left by a killed process: `remove_stale` deletes those. A write that
fails (a full disk) is one line naming the file and the space needed; nothing is kept.
"""

from __future__ import annotations

import contextlib
import errno
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

from seqlab.data.saved import json_or_none, read_tokenizer
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
    meta = json_or_none(folder / META)
    if meta is None or meta.get("format_version") != FORMAT_VERSION:
        return None
    try:
        for info in meta["splits"].values():
            path = folder / info["file"]
            if path.stat().st_size != info["tokens"] * np.dtype(info["dtype"]).itemsize:
                return None
            if file_sha256(path) != info["sha256"]:
                return None
        read_tokenizer(meta["tokenizer"], folder / META, "")  # its tokenizer must rebuild, too
    except (OSError, ValueError, KeyError, TypeError, AttributeError, SeqlabError):
        return None
    return CacheEntry(folder, meta)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


class CacheWriteError(SeqlabError):
    """A file of a cache entry could not be written (no space, read-only, no permission): a
    runtime failure, exit code 1; nothing of the entry is kept."""

    exit_code = 1


SPACE_ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def _size(nbytes: float) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if nbytes >= size:
            return f"{nbytes / size:.1f} {unit}"
    return f"{nbytes:.0f} bytes"


@contextlib.contextmanager
def writing_cache(path: Path, needed: int | None = None) -> Iterator[None]:
    """Around a write of the cache: an OSError becomes CacheWriteError naming `path`, with the
    space the entry needs (at most `needed` bytes) and what is free when the disk is full."""
    try:
        yield
    except OSError as err:
        reason = err.strerror or str(err) or type(err).__name__
        facts = []
        if err.errno in SPACE_ERRORS:
            facts = [f"it needs up to {_size(needed)}"] if needed else []
            try:
                facts.append(f"{_size(shutil.disk_usage(path.parent).free)} are free there")
            except OSError:
                pass
        space = f" ({', '.join(facts)})" if facts else ""
        raise CacheWriteError(f"could not write prepared data '{path}': {reason}{space}; nothing was kept: make "
                              "room, or point task.cache_dir (or SEQLAB_CACHE) at a disk with space") from None


class SplitWriter:
    """Appends id arrays to one token file, hashing and counting as it goes."""

    def __init__(self, path: Path, dtype: Any, needed: int | None = None) -> None:
        self.path, self.dtype, self.needed = path, np.dtype(dtype).newbyteorder("<"), needed
        with writing_cache(path, needed):
            self._file = open(path, "wb")
        self._digest = hashlib.sha256()
        self.tokens = self.chars = self.bytes = self.unknown = 0

    def append(self, ids: np.ndarray, chars: int, nbytes: int, unknown: int) -> None:
        data = np.ascontiguousarray(ids, dtype=self.dtype).tobytes()
        with writing_cache(self.path, self.needed):
            try:
                self._file.write(data)
            except OSError:
                with contextlib.suppress(OSError):
                    self._file.close()  # closed now: its buffer would fail again when collected
                raise
        self._digest.update(data)
        self.tokens += len(ids)
        self.chars, self.bytes, self.unknown = self.chars + chars, self.bytes + nbytes, self.unknown + unknown

    def close(self) -> dict[str, Any]:
        """Flushed to disk; returns the split's meta."""
        with writing_cache(self.path, self.needed):
            try:
                self._file.flush()
                os.fsync(self._file.fileno())
            finally:
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
    """The folder an entry is written in (made while holding the entry's lock)."""
    with writing_cache(folder.parent / f".tmp-{folder.name}"):
        return Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".tmp-{folder.name}-"))


def remove_stale(cache_dir: Path) -> list[Path]:
    """Delete the `.tmp-*` / `.old-*` folders of `cache_dir` that a killed process left: those whose
    entry's lock nobody holds (a live writer holds it all the while it writes). Returns them."""
    removed = []
    for leftover in sorted(Path(cache_dir).glob(".tmp-*")) + sorted(Path(cache_dir).glob(".old-*")):
        entry = leftover.name.split("-", 1)[1].rsplit("-", 1)[0]  # .tmp-<entry>-<random>
        lock = Path(cache_dir) / f"{entry}.lock"
        if not leftover.is_dir() or not lock.exists():
            continue  # not one of ours (every writer made its entry's lock file first)
        try:
            with open(lock, "a") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)  # dropped when the file closes
                shutil.rmtree(leftover, ignore_errors=True)
        except OSError:  # held: a live process is writing it (or the cache is read-only)
            continue
        removed.append(leftover)
    return removed


def publish(tmp: Path, folder: Path, meta: dict[str, Any], needed: int | None = None) -> None:
    """Write meta.json last, then rename the finished folder into place (a damaged entry is moved aside)."""
    with writing_cache(tmp / META, needed):
        (tmp / META).write_text(json.dumps(meta))
    if folder.exists():
        aside = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".old-{folder.name}-"))
        os.replace(folder, aside / "entry")
        shutil.rmtree(aside, ignore_errors=True)
    os.replace(tmp, folder)
