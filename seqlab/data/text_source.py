"""A TinyStories-shaped text source read as a stream: `datasets.load_dataset`, then Arrow batches.

A split's text is its stories joined by a newline, cut at a character limit. It is never
held as one string: `text_chunks` yields it in consecutive pieces of about a thousand
stories (each piece but the last ends with the joining newline), so memory stays bounded
whatever the split's size, and concatenating the pieces gives exactly the joined text.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from seqlab.data.records import check_text_column, record_error, split_files
from seqlab.errors import SeqlabError

HUB_HINT = (
    "offline? point task.source (or the SEQLAB_TINYSTORIES environment variable) at a "
    "local copy, e.g. task.source=../shared/data/tinystories"
)
ROWS_PER_CHUNK = 1000


def open_source(source: str, what: str = "task.source") -> Any:
    """`datasets.load_dataset(source)`; every way it can fail is one SeqlabError."""
    local = Path(source).expanduser()
    # Hub names are "owner/name"; anything path-like that does not exist is a typo.
    looks_local = source.startswith((".", "/", "~")) or source.count("/") > 1
    if looks_local and not local.exists():
        raise SeqlabError(f"{what}: no such folder or file '{source}'")
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    if not local.exists():  # a hub name: offline, fail in a second rather than after retries
        from seqlab.data.hub import offline_unless_reachable

        offline_unless_reachable()
    import datasets

    quiet_datasets()
    try:
        return datasets.load_dataset(str(local) if local.exists() else source)
    except UnicodeDecodeError as err:
        raise SeqlabError(f"{what} '{source}': a data file is not UTF-8 ({err.reason})") from None
    except Exception as err:  # datasets raises many types for "not reachable / not found"
        bad = record_error(split_files(source, None), what)  # a record it could not read, if local
        if bad is not None:
            raise bad from None
        hint = "" if local.exists() else f"; {HUB_HINT}"
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise SeqlabError(f"could not load TinyStories from '{source}': {first}{hint}") from None


def quiet_datasets() -> None:
    """After `import datasets` (the libraries set their own levels on import): their retry warnings
    and "Failed to load JSON" errors would bury the one error line seqlab prints."""
    for name in ("datasets", "huggingface_hub", "fsspec"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def text_split(ds: Any, source: str, split: str, what: str = "task.source") -> Any:
    """The split of `ds`, checked to exist and to have a text column of strings in every record."""
    if split not in ds:
        raise SeqlabError(f"'{source}' has no '{split}' split (it has: {', '.join(ds)})")
    if "text" not in ds[split].column_names:
        raise SeqlabError(f"'{source}' split '{split}' has no 'text' column")
    check_text_column(ds[split], source, split, what)
    return ds[split]


def text_bytes(split: Any) -> int:
    """UTF-8 bytes of the split's joined text, from Arrow's offsets (no text is read)."""
    import pyarrow.compute as pc

    column = split.data.column("text")
    return int(pc.sum(pc.binary_length(column)).as_py() or 0) + max(len(column) - 1, 0)


def text_chunks(split: Any, limit: int | None, source: str = "",
                what: str = "task.source") -> Iterator[str]:
    """The split's stories joined by a newline and cut at `limit` characters, piece by piece."""
    sent, previous = 0, None
    try:  # pyarrow decodes lazily: a bad byte surfaces while reading rows
        for rows in split.iter(batch_size=ROWS_PER_CHUNK):
            if previous is not None:
                piece = _cut(previous + "\n", limit, sent)
                sent += len(piece)
                yield piece
                if limit is not None and sent >= limit:
                    return
            previous = "\n".join(rows["text"])
    except UnicodeDecodeError as err:
        raise SeqlabError(f"{what} '{source}': a data file is not UTF-8 ({err.reason})") from None
    if previous is not None:
        yield _cut(previous, limit, sent)


def _cut(piece: str, limit: int | None, sent: int) -> str:
    return piece if limit is None else piece[:max(limit - sent, 0)]


def load_split_text(source: str, split: str, limit: int | None, what: str = "source") -> str:
    """One split as one string (for texts that fit in memory: `seqlab eval`, tests)."""
    part = text_split(open_source(source, what), source, split, what)
    return "".join(text_chunks(part, limit, source, what))
