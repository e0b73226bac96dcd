"""Prepare a TinyStories-shaped source once into token files; training and eval map them.

Memory stays bounded whatever the corpus size: the text is streamed in chunks of about a
thousand stories (seqlab/data/text_source.py), each chunk encoded and appended to its
split's token file (seqlab/data/token_cache.py).

The vocabulary is settled before anything is encoded, by a first streamed pass over the
training text: `char` marks every code point seen (the vocabulary is those characters,
sorted, plus the unknown id: the same ids as encoding the whole text in memory); `byte`
needs no pass (256 ids); `bpe` trains Hugging Face `tokenizers` on the pass's text.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from seqlab.data.console import prepare_progress, say, summary_line
from seqlab.data.text_source import open_source, text_bytes, text_chunks, text_split
from seqlab.data.token_cache import (
    FORMAT_VERSION,
    CacheEntry,
    SplitWriter,
    entry_folder,
    entry_lock,
    new_temp_folder,
    publish,
    read_entry,
    remove_stale,
)
from seqlab.data.tokenizers.char import CODE_POINTS, CharVocab, code_points
from seqlab.data.tokenizers.subword import KINDS, ByteTokenizer, check_bpe_vocab_size, train_bpe
from seqlab.errors import SeqlabError

SPLITS = ("train", "validation")


def prepare(cfg: Any) -> CacheEntry:
    """The prepared entry for a tinystories task config: from the cache if intact, else built now."""
    check_settings(cfg)
    folder = entry_folder(cfg.cache_dir, cache_key(cfg))
    if folder.parent.is_dir():
        remove_stale(folder.parent)  # what killed preparations left behind
    entry = read_entry(folder)
    if entry is not None:
        return entry
    with entry_lock(folder):
        # Another process may have built it while this one waited for the lock.
        entry = read_entry(folder)
        return entry if entry is not None else _build(cfg, folder)


def check_settings(cfg: Any) -> None:
    if cfg.max_chars is not None and cfg.max_chars <= 0:
        raise SeqlabError(f"task.max_chars must be positive or null (the whole split), got {cfg.max_chars}")
    if cfg.val_max_chars is not None and cfg.val_max_chars <= 0:
        raise SeqlabError(f"task.val_max_chars must be positive or null (the whole split), got {cfg.val_max_chars}")
    if cfg.tokenizer not in KINDS:
        raise SeqlabError(f"task.tokenizer must be one of {', '.join(KINDS)}, got '{cfg.tokenizer}'")
    if cfg.tokenizer == "bpe":
        check_bpe_vocab_size(cfg.vocab_size)


def cache_key(cfg: Any) -> str:
    """Hash of what the entry depends on: the source's files (size, mtime), caps, tokenizer."""
    local = Path(cfg.source).expanduser()
    if local.exists():
        files = sorted(p for p in local.rglob("*") if p.is_file()) if local.is_dir() else [local]
        fingerprint = [str(local.resolve())] + [
            f"{p.relative_to(local) if local.is_dir() else p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}"
            for p in files
        ]
    else:
        fingerprint = [cfg.source]
    vocab_size = cfg.vocab_size if cfg.tokenizer == "bpe" else None
    blob = json.dumps([FORMAT_VERSION, fingerprint, cfg.max_chars, cfg.val_max_chars, cfg.tokenizer, vocab_size])
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _build(cfg: Any, folder: Path) -> CacheEntry:
    start = time.perf_counter()
    ds = open_source(cfg.source)
    splits = {name: text_split(ds, cfg.source, name) for name in SPLITS}
    limits = {"train": cfg.max_chars, "validation": cfg.val_max_chars}
    # Text bytes per split (capped): no split has more tokens than that.
    sizes = {name: _capped(text_bytes(splits[name]), limits[name]) for name in SPLITS}
    tmp = new_temp_folder(folder)
    try:
        with prepare_progress() as progress:
            def stream(name: str, what: str) -> Iterator[tuple[str, int]]:
                bar = progress.add_task(f"{what} {name}", total=sizes[name])
                for chunk in text_chunks(splits[name], limits[name], cfg.source):
                    size = len(chunk.encode("utf-8"))
                    yield chunk, size
                    progress.advance(bar, size)

            tokenizer = settle_tokenizer(cfg, (chunk for chunk, _ in stream("train", "vocabulary of")))
            needed = sum(sizes.values()) * np.dtype(tokenizer.dtype).itemsize
            meta_splits = {name: encode_split(tokenizer, stream(name, "encoding"), tmp / f"{name}.bin", needed)
                           for name in SPLITS}
        meta = {"format_version": FORMAT_VERSION, "source": cfg.source, "max_chars": cfg.max_chars,
                "val_max_chars": cfg.val_max_chars, "tokenizer_kind": tokenizer.kind,
                "vocab_size": len(tokenizer), "tokenizer": tokenizer.to_json(), "splits": meta_splits}
        publish(tmp, folder, meta, needed)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    say(f"prepared {summary_line(meta, time.perf_counter() - start)}")
    return CacheEntry(folder, meta, built=True)


def _capped(total: int, limit: int | None) -> int:
    return total if limit is None else min(total, limit)


def settle_tokenizer(cfg: Any, train_chunks: Iterator[str]) -> Any:
    """The tokenizer, fixed before encoding (the first pass over the training text)."""
    if cfg.tokenizer == "byte":
        return ByteTokenizer()
    if cfg.tokenizer == "bpe":
        return train_bpe(train_chunks, cfg.vocab_size)
    seen = np.zeros(CODE_POINTS, dtype=bool)
    for chunk in train_chunks:
        seen[code_points(chunk)] = True
    return CharVocab.from_code_points(np.flatnonzero(seen))


def encode_split(tokenizer: Any, chunks: Iterator[tuple[str, int]], path: Path,
                 needed: int | None = None) -> dict[str, Any]:
    """Encode chunk by chunk into `path`; returns the split's meta (sizes, checksum). `needed`: the
    bytes the whole entry may take, said when the disk is full."""
    writer = SplitWriter(path, tokenizer.dtype, needed)
    for chunk, size in chunks:
        ids = tokenizer.encode(chunk)
        writer.append(ids, chars=len(chunk), nbytes=size, unknown=tokenizer.count_unknown(ids))
    return writer.close()
