"""Every read of user data checks its records: each one's `text` must be a string.

A TinyStories-shaped source is JSON lines (or any format `datasets` reads) with a `text` field.
A record whose text is null, a number, a list or missing would surface as a TypeError or an
Arrow error deep inside preparation, training or `seqlab eval`; here the split's Arrow column
is checked before any text is read (its type and null count: no row is decoded), and a bad
one is located in its file for the one-line error: the file, the record's number (its line
in a JSON-lines file) and what its text is instead.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from seqlab.errors import SeqlabError

FIX = "every record needs a \"text\" string: fix or remove that record"


def check_text_column(rows: Any, source: str, split: str, what: str) -> None:
    """Raise one line naming the first record of `rows` (a `datasets.Dataset`) whose text is no string."""
    import pyarrow as pa

    column = rows.data.column("text")
    if (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)) and column.null_count == 0:
        return
    raise bad_record(source, split, what, first_bad_row(column))


def first_bad_row(column: Any) -> int:
    """The index of the first value of an Arrow column that is no string (0 when none is)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = column.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        found = pc.index(pc.is_null(column), True).as_py()
        return max(found, 0)
    storage_type = getattr(kind, "storage_type", None)  # datasets' Json feature: JSON text per row
    if storage_type is not None and (pa.types.is_string(storage_type) or pa.types.is_large_string(storage_type)):
        storage = pa.chunked_array([chunk.storage for chunk in column.chunks], type=storage_type)
        quoted = pc.fill_null(pc.starts_with(storage, pattern='"'), False)
        return max(pc.index(quoted, False).as_py(), 0)
    return 0  # a column of numbers, lists or objects: the first record already is no string


def bad_record(source: str, split: str, what: str, row: int) -> SeqlabError:
    """The error for record `row` of a split: located in its file when the source is local JSON lines."""
    found = record_error(split_files(source, split), what)
    if found is not None:
        return found
    return SeqlabError(f"{what} '{source}', split '{split}', record {row + 1}: its \"text\" is not a "
                       f"string; {FIX}")


def split_files(source: str, split: str | None) -> list[Path]:
    """The local files a split is read from (as `datasets` resolves them): the file itself, or the
    folder's files for `split` (every data file when `split` is None); [] for a hub name."""
    local = Path(source).expanduser()
    if local.is_file():
        return [local]
    if not local.is_dir():
        return []
    try:
        from datasets.data_files import DataFilesDict, get_data_patterns

        patterns = get_data_patterns(str(local))
        files = DataFilesDict.from_patterns(patterns, base_path=str(local))
    except Exception:  # noqa: BLE001 - only a better message is at stake: fall back to the row number
        return []
    chosen = [v for k, v in files.items() if split is None or str(k) == split]
    return [Path(str(f).removeprefix("file://")) for files_of in chosen for f in files_of]


def record_error(files: list[Path], what: str) -> SeqlabError | None:
    """The one-line error for the first bad record of `files` (see locate_bad_record), or None."""
    found = locate_bad_record(files)
    if found is None:
        return None
    path, number, problem = found
    return SeqlabError(f"{what} '{path}', record {number}: {problem}; {FIX}")


def locate_bad_record(files: list[Path]) -> tuple[Path, int, str] | None:
    """(file, record number, what is wrong) of the first record in JSON-lines `files` whose text is
    no string, or which is no JSON object at all; None when there is none (or the files are no JSON lines)."""
    for path in files:
        if path.suffix not in (".jsonl", ".json"):
            continue
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                if path.suffix == ".json" and f.read(1) == "[":
                    continue  # one JSON array, not JSON lines: the row number has to do
                f.seek(0)
                found = _scan(f)
        except OSError:
            continue
        if found is not None:
            return (path, *found)
    return None


def _scan(lines: Any) -> tuple[int, str] | None:
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            return number, "it is not valid JSON (JSON lines: one object per line)"
        if not isinstance(record, dict):
            return number, f"it is {describe(record)}, not a JSON object"
        if "text" not in record:
            return number, "it has no \"text\" field"
        if not isinstance(record["text"], str):
            return number, f"its \"text\" is {describe(record['text'])}, not a string"
    return None


def describe(value: Any) -> str:
    """A JSON value in a few words: null, a number (5), a list, an object."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({json.dumps(value)})"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return f"a {type(value).__name__}"
