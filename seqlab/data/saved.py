"""Reading back the files seqlab wrote: the one place where damage becomes one line.

Run folder files (meta.json, train_state.json, pointers, .hydra/ records), checkpoint tensors
(safetensors), cache entries, tokenizer JSON and trackers.json are all read through here. A file
that is missing, cut short, not the format it should be, or lacks a field it should have raises
`DamagedFileError`: one line naming the file, what is wrong with it and what to do (the caller
says what to do: it knows what the file was for). Nothing is written while reading, so a damaged
run is left exactly as it was.

`reading(path, fix)` wraps any code that parses a file (a missing key deep in a JSON object is
damage too); `read_json`, `read_yaml`, `read_tensors`, `check_tensors`, `load_weights_into` and
`read_tokenizer` are the reads themselves. `json_or_none` is for optional files whose absence or
damage the caller handles itself (a pointer while pruning, a run shown by `seqlab compare`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from seqlab.errors import SeqlabError

# What damaged bytes raise while they are parsed (UnicodeDecodeError and JSONDecodeError are
# ValueErrors; a field of the wrong type shows as TypeError, AttributeError or IndexError).
DAMAGE = (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError)


class DamagedFileError(SeqlabError):
    """A file seqlab wrote cannot be read back (exit 2): the message names it and the fix."""


def describe(err: BaseException) -> str:
    """What is wrong with a file, from what reading it raised, in a few words."""
    if isinstance(err, json.JSONDecodeError):
        return f"not valid JSON: {err.msg} at line {err.lineno}"
    if isinstance(err, UnicodeDecodeError):
        return "not UTF-8 text"
    if isinstance(err, KeyError):
        return f"it has no {err.args[0]!r} field" if err.args else "a field is missing"
    if isinstance(err, OSError):
        return err.strerror or type(err).__name__
    if type(err).__name__ == "SafetensorError":
        detail = str(err).split(": ", 1)[-1]
        return f"not a complete safetensors file: {detail}"
    first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return first[:200]


def damaged(path: Path, err: BaseException | str, fix: str) -> DamagedFileError:
    """The one-line error for `path`; `err` is what reading raised (or the reason in words)."""
    if isinstance(err, FileNotFoundError):
        return DamagedFileError(f"'{path}' is missing; {fix}")
    reason = err if isinstance(err, str) else describe(err)
    if isinstance(err, OSError):  # the file may be whole: the disk or its permissions refuse it
        return DamagedFileError(f"'{path}' cannot be read ({reason}); {fix}")
    return DamagedFileError(f"'{path}' is damaged ({reason}); {fix}")


def _is_damage(err: BaseException) -> bool:
    if isinstance(err, DAMAGE):
        return True
    # The libraries' own error types (yaml's have subclasses), without importing them here.
    return any(base.__name__ in ("SafetensorError", "YAMLError") for base in type(err).__mro__)


@contextmanager
def reading(path: Path, fix: str) -> Iterator[None]:
    """Around code that reads and parses `path`: whatever damage raises becomes DamagedFileError.
    Errors that already say what is wrong (SeqlabError) pass through unchanged."""
    try:
        yield
    except SeqlabError:
        raise
    except Exception as err:
        if not _is_damage(err):
            raise  # not the file: a bug to see with its traceback
        if not Path(path).exists():  # however the library says it
            raise damaged(path, FileNotFoundError(), fix) from None
        raise damaged(path, err, fix) from None


def read_json(path: Path, fix: str, kind: type = dict) -> Any:
    """A JSON file seqlab wrote, checked to hold a `kind` (an object unless told)."""
    return _parsed(path, fix, kind, json.loads, "JSON")


def json_or_none(path: Path, kind: type = dict) -> Any | None:
    """An optional JSON file: its content, or None when it is missing or damaged."""
    try:
        return read_json(path, "", kind)
    except DamagedFileError:
        return None


def read_yaml(path: Path, fix: str, kind: type = object) -> Any:
    """A YAML file seqlab (or Hydra, for seqlab) wrote, checked to hold a `kind`."""
    import yaml

    return _parsed(path, fix, kind, yaml.safe_load, "YAML")


def _parsed(path: Path, fix: str, kind: type, parse: Callable[[str], Any], form: str) -> Any:
    path = Path(path)
    with reading(path, fix):
        data = parse(path.read_text(encoding="utf-8"))
    if not isinstance(data, kind):
        noun = {dict: "object", list: "list"}.get(kind, kind.__name__)
        raise damaged(path, f"not a {form} {noun}", fix)
    return data


def check_tensors(path: Path, fix: str) -> list[str]:
    """A safetensors file's tensor names, after checking its header and that the file holds every
    byte the header promises (cheap: nothing is loaded)."""
    from safetensors import safe_open

    path = Path(path)
    with reading(path, fix), safe_open(str(path), framework="pt") as f:
        return list(f.keys())


def read_tensors(path: Path, fix: str, device: Any = "cpu") -> dict[str, Any]:
    """Every tensor of a safetensors file (nothing is unpickled)."""
    from safetensors.torch import load_file

    path = Path(path)
    with reading(path, fix):
        return load_file(str(path), device=str(device))


def load_weights_into(model: Any, path: Path, fix: str, device: Any = "cpu") -> None:
    """A model's weights from a safetensors file (tied weights handled as they were saved). Damage
    is DamagedFileError; tensors that do not fit the model raise RuntimeError for the caller."""
    from safetensors.torch import load_model

    check_tensors(path, fix)
    with reading(path, fix):  # a RuntimeError (names or shapes that differ) is no damage: it passes
        load_model(model, str(path), strict=True, device=str(device))


def read_tokenizer(data: Any, path: Path, fix: str) -> Any:
    """A tokenizer back from the JSON a checkpoint or cache entry keeps (its `to_json()`)."""
    from seqlab.data.tokenizers.char import CharVocab

    if not isinstance(data, dict):
        raise damaged(path, "its tokenizer is not a JSON object", fix)
    try:
        return CharVocab.from_json(data)
    except SeqlabError:
        raise
    except Exception as err:  # tokenizers' Tokenizer.from_str raises a bare Exception on bad JSON
        raise damaged(path, f"its tokenizer cannot be rebuilt: {describe(err)}", fix) from None
