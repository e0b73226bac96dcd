"""TinyStories at the character level, loaded through `datasets.load_dataset`.

The same call reads the hub copy (`roneneldan/TinyStories`) or a local folder with
train/validation JSON files. Encoded arrays are cached on disk, keyed by the source's
fingerprint and max_chars, so a second run skips both loading and encoding.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from seqlab.errors import SeqlabError
from seqlab.tasks.char_lm import CharLMTask
from seqlab.tasks.vocab import CharVocab

CACHE_VERSION = 1
HUB_HINT = (
    "offline? point task.source (or the SEQLAB_TINYSTORIES environment variable) at a "
    "local copy, e.g. task.source=../shared/data/tinystories"
)


def build_tinystories(cfg: Any) -> CharLMTask:
    train, val, vocab = load_encoded(cfg.source, cfg.max_chars, cfg.val_max_chars, cfg.cache_dir)
    unknown = int((val == vocab.unk_id).sum())
    return CharLMTask(train, val, vocab, cfg.seq_len, facts={"unknown_chars": unknown})


def load_encoded(source: str, max_chars: int, val_max_chars: int | None,
                 cache_dir: str) -> tuple[np.ndarray, np.ndarray, CharVocab]:
    """Encoded train and validation arrays and the vocabulary, from the cache if there."""
    if max_chars <= 0:
        raise SeqlabError(f"task.max_chars must be positive, got {max_chars}")
    key = _cache_key(source, max_chars, val_max_chars)
    folder = Path(cache_dir).expanduser() / f"tinystories-{key}"
    try:
        meta = json.loads((folder / "meta.json").read_text())
        vocab = CharVocab.from_json(meta["vocab"])
        return np.load(folder / "train.npy"), np.load(folder / "validation.npy"), vocab
    except (OSError, ValueError, KeyError):
        pass  # a miss or a damaged entry: rebuild it

    train_text, val_text = _load_texts(source, max_chars, val_max_chars)
    vocab = CharVocab.from_text(train_text)
    train, val = vocab.encode(train_text), vocab.encode(val_text)
    _write_cache(folder, train, val, vocab, source, max_chars)
    return train, val, vocab


def _load_texts(source: str, max_chars: int, val_max_chars: int | None) -> tuple[str, str]:
    ds = _open_source(source, "task.source")
    return (_split_text(ds, source, "train", max_chars, "task.source"),
            _split_text(ds, source, "validation", val_max_chars, "task.source"))


def load_split_text(source: str, split: str, limit: int | None) -> str:
    """One split of a TinyStories-shaped source as one text (stories joined by a newline, cut
    at `limit` characters), through the same `datasets.load_dataset` call and errors as
    training; `seqlab eval` scores a run on it."""
    return _split_text(_open_source(source, "source"), source, split, limit, "source")


def _open_source(source: str, what: str):
    """`datasets.load_dataset(source)`; every way it can fail is one SeqlabError."""
    local = Path(source).expanduser()
    # Hub names are "owner/name"; anything path-like that does not exist is a typo.
    looks_local = source.startswith((".", "/", "~")) or source.count("/") > 1
    if looks_local and not local.exists():
        raise SeqlabError(f"{what}: no such folder or file '{source}'")
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    if not local.exists():  # a hub name: offline, fail in a second rather than after retries
        from seqlab.tasks.hub import offline_unless_reachable

        offline_unless_reachable()
    import datasets

    # After the import (the libraries set their own levels on import): their retry
    # warnings would bury the one error line we print.
    for name in ("datasets", "huggingface_hub", "fsspec"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        return datasets.load_dataset(str(local) if local.exists() else source)
    except UnicodeDecodeError as err:
        raise SeqlabError(f"{what} '{source}': a data file is not UTF-8 ({err.reason})") from None
    except Exception as err:  # datasets raises many types for "not reachable / not found"
        hint = "" if local.exists() else f"; {HUB_HINT}"
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise SeqlabError(f"could not load TinyStories from '{source}': {first}{hint}") from None


def _split_text(ds, source: str, split: str, limit: int | None, what: str) -> str:
    if split not in ds:
        raise SeqlabError(f"'{source}' has no '{split}' split (it has: {', '.join(ds)})")
    if "text" not in ds[split].column_names:
        raise SeqlabError(f"'{source}' split '{split}' has no 'text' column")
    try:  # pyarrow decodes lazily: a bad byte surfaces while reading rows
        return _join(ds[split], limit)
    except UnicodeDecodeError as err:
        raise SeqlabError(f"{what} '{source}': a data file is not UTF-8 ({err.reason})") from None


def _join(split, limit: int | None) -> str:
    """Stories joined by a newline, reading only as many rows as `limit` characters need."""
    parts, total = [], 0
    for rows in split.iter(batch_size=1000):
        for text in rows["text"]:
            parts.append(text)
            total += len(text) + 1
        if limit is not None and total >= limit:
            break
    joined = "\n".join(parts)
    return joined if limit is None else joined[:limit]


def _cache_key(source: str, max_chars: int, val_max_chars: int | None) -> str:
    local = Path(source).expanduser()
    if local.exists():
        files = sorted(p for p in local.rglob("*") if p.is_file()) if local.is_dir() else [local]
        fingerprint = [str(local.resolve())] + [
            f"{p.relative_to(local) if local.is_dir() else p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}"
            for p in files
        ]
    else:
        fingerprint = [source]
    blob = json.dumps([CACHE_VERSION, fingerprint, max_chars, val_max_chars])
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _write_cache(folder: Path, train: np.ndarray, val: np.ndarray, vocab: CharVocab,
                 source: str, max_chars: int) -> None:
    tmp = None
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".tmp-"))
        np.save(tmp / "train.npy", train)
        np.save(tmp / "validation.npy", val)
        meta = {"source": source, "max_chars": max_chars, "vocab": vocab.to_json()}
        (tmp / "meta.json").write_text(json.dumps(meta))
        os.replace(tmp, folder)  # atomic: readers see all of an entry or none
    except OSError:
        # A read-only or full cache, or a concurrent writer: only costs speed next time.
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
