"""Claiming a run folder for writing: made fresh (or chosen), locked, and left clean on refusal.

A run that fails before it wrote anything of its training (no metrics.jsonl, no
checkpoint/) leaves nothing behind: a folder this process made is removed, with the date
folders made for it. A folder that existed before (a run being resumed, a folder the user
chose) is never removed.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from seqlab.data.saved import json_or_none
from seqlab.errors import SeqlabError
from seqlab.runs import CHECKPOINTS, HOLDS_A_RUN, LAST, TRAINED
from seqlab.runs.lock import RunLock

_made: dict[Path, list[Path]] = {}  # folder this process made -> the folders made for it, deepest first


def _cannot_create(path: Path, err: OSError) -> SeqlabError:
    """Why `path` cannot be made, in words: a file or a broken symbolic link in its way, or the OS's reason."""
    blocker = next((p for p in (path, *path.parents) if p.exists() and not p.is_dir()), None)
    dangling = next((p for p in (path, *path.parents) if p.is_symlink() and not p.exists()), None)
    if blocker:
        reason = f"'{blocker}' is a file"
    elif dangling:
        reason = (f"'{dangling}' is a symbolic link to '{os.readlink(dangling)}', which does not exist "
                  "(create its target, or remove the link)")
    else:
        reason = err.strerror or str(err) or type(err).__name__
    return SeqlabError(f"cannot create run folder '{path}': {reason}")


def _make_parents(path: Path) -> list[Path]:
    """Create `path`'s missing parents; returns those it created, deepest first."""
    missing = [p for p in path.parents if not p.exists()]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:  # a parent is a file, a read-only mount, no permission
        raise _cannot_create(path, err) from None
    return missing


def reserve_folder(pattern: str | Path) -> Path:
    """Create the folder `pattern` names, or `pattern-2`, `-3`, ...: two runs started in
    the same second never share one (mkdir is atomic; whoever creates it owns it)."""
    base = Path(pattern)
    parents = _make_parents(base)
    for n in range(1, 1000):
        path = base if n == 1 else base.with_name(f"{base.name}-{n}")
        try:
            path.mkdir()
        except FileExistsError:
            continue
        except OSError as err:
            raise _cannot_create(path, err) from None
        _made[path.resolve()] = [path, *parents]
        return path
    raise SeqlabError(f"could not create a fresh run folder next to '{base}'")


def make_folder(path: Path) -> Path:
    """The folder the user chose (hydra.run.dir): created if missing; made fresh only then."""
    path = Path(path)
    if path.is_dir():
        return path
    parents = _make_parents(path)
    try:
        path.mkdir()
    except FileExistsError:  # another run made it a moment ago: it is not ours
        if path.is_dir():
            return path
        raise _cannot_create(path, FileExistsError()) from None
    except OSError as err:
        raise _cannot_create(path, err) from None
    _made[path.resolve()] = [path, *parents]
    return path


def holds_run(folder: Path) -> bool:
    return any((Path(folder) / name).exists() for name in HOLDS_A_RUN)


@contextmanager
def claim_run_folder(folder: Path, resuming: bool, writer: bool = True) -> Iterator[None]:
    """Hold `folder`'s lock while the body writes it. Refused in one line (exit 2, nothing
    touched) when another process holds it, or when it holds a run and this is no resume.
    A body that fails in a fresh folder before any training is written removes the folder.
    Processes that do not write the folder (ranks other than 0: `writer=False`) claim nothing."""
    folder = Path(folder)
    key = folder.resolve()
    if not writer:
        yield
        return
    if not resuming and holds_run(folder):
        raise SeqlabError(f"'{folder}' already holds a run; continue it with `seqlab resume {folder}`, "
                          f"or train into a new folder")
    lock = RunLock(folder)
    lock.acquire()
    try:
        yield
    except BaseException as exc:
        if not (isinstance(exc, SystemExit) and exc.code in (0, None)):
            _remove_if_debris(key)
        raise
    finally:
        lock.release()


def _fresh(key: Path) -> list[Path] | None:
    """What to remove for a failed run in `key`: itself (and its made parents) if this process
    made it or a folder above it (a sweep's job folder), else None."""
    if key in _made:
        return _made[key]
    return [key] if any(parent in _made for parent in key.parents) else None


def _remove_if_debris(key: Path) -> None:
    made = _fresh(key)
    if made is None or any((key / name).exists() for name in TRAINED):
        return
    shutil.rmtree(key, ignore_errors=True)
    for parent in made[1:]:  # the date folder made for it, if no other run uses it
        try:
            os.rmdir(parent)
        except OSError:
            break
    _made.pop(key, None)


def last_checkpoint_step(folder: Path) -> int | None:
    """The step of a run folder's last checkpoint, or None when it has none (or its pointer is damaged)."""
    step = (json_or_none(Path(folder) / CHECKPOINTS / LAST) or {}).get("step")
    return step if isinstance(step, int) else None


def resume_hint(folder: Path) -> str:
    """How to continue after a failed write: the last good checkpoint and the resume command."""
    step = last_checkpoint_step(folder)
    if step is None:
        return "; no checkpoint was saved, the run must start again" if Path(folder).is_dir() else ""
    return f"; the last good checkpoint is step {step}; once there is room: seqlab resume {folder}"
