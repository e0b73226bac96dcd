"""A text named on the command line as a folder or as a file: either works where either makes sense.

`seqlab eval --source` wants one split of a TinyStories-shaped source: a folder (or hub name)
with train/validation files, or one such file (`.../validation.jsonl`), whose text is then
the split. `seqlab gradients --text` wants one file: a folder stands for its validation file.
When neither fits, the error says what was expected.
"""

from __future__ import annotations

from pathlib import Path

from seqlab.errors import SeqlabError

TEXT_SUFFIXES = (".jsonl", ".json", ".txt")


def text_file(path: Path, flag: str, prefer: str = "validation") -> Path:
    """A file as given, or the file a folder stands for: <prefer>.jsonl, else its only text file."""
    path = Path(path).expanduser()
    if path.is_file():
        return path
    if not path.exists():
        raise SeqlabError(f"{flag}: no such file or folder '{path}'")
    preferred = path / f"{prefer}.jsonl"
    if preferred.is_file():
        return preferred
    files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in TEXT_SUFFIXES)
    if len(files) == 1:
        return files[0]
    found = ", ".join(p.name for p in files) or "none"
    raise SeqlabError(f"{flag}: '{path}' is a folder; expected a text file (.txt, or .jsonl with a 'text' "
                      f"field) or a folder with {prefer}.jsonl (its text files: {found})")


def split_text(source: str, split: str, limit: int | None, flag: str = "--source") -> str:
    """The text of `split` of a source: a folder or hub name (TinyStories' layout), or one file,
    which is then the split itself."""
    from seqlab.data.text_source import load_split_text

    local = Path(source).expanduser()
    if not local.is_file():
        return load_split_text(source, split, limit, flag)
    if local.suffix not in TEXT_SUFFIXES:
        raise SeqlabError(f"{flag}: '{source}' is neither a folder of train/validation .jsonl files nor a "
                          f"text file ({', '.join(TEXT_SUFFIXES)})")
    return _file_text(local, limit, flag)


def _file_text(path: Path, limit: int | None, flag: str) -> str:
    """One file through `datasets` (json lines with a `text` field, or plain text), joined like a split."""
    import os

    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    import datasets

    from seqlab.data.records import check_text_column, record_error
    from seqlab.data.text_source import quiet_datasets, text_chunks

    quiet_datasets()

    builder = "text" if path.suffix == ".txt" else "json"
    try:
        rows = datasets.load_dataset(builder, data_files=str(path), split="train")
    except Exception as err:  # datasets raises many types for an unreadable file
        bad = record_error([path], flag)  # a record it could not read
        if bad is not None:
            raise bad from None
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise SeqlabError(f"{flag}: cannot read '{path}': {first}") from None
    if "text" not in rows.column_names:
        raise SeqlabError(f"{flag}: '{path}' has no 'text' field (it has: {', '.join(rows.column_names)})")
    check_text_column(rows, str(path), "train", flag)
    return "".join(text_chunks(rows, limit, str(path), flag))
