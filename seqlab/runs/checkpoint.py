"""Checkpoints as safetensors + JSON: nothing is ever unpickled.

Layout inside a run folder:
    checkpoint/step_000500/model.safetensors   weights
    checkpoint/step_000500/meta.json           format version, step, config, vocab, metrics
    checkpoint/last.json, checkpoint/best.json pointers: {"step": 500, "dir": "step_000500"}
A step folder is written under a temporary name and renamed when complete, and a
pointer is replaced atomically after it, so a crash never leaves a pointer to a
half-written checkpoint, and a failed write (a full disk) leaves the previous checkpoint
and its pointers as they were.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import save_model

from seqlab.data.saved import (
    damaged,
    json_or_none,
    load_weights_into,
    read_json,
    read_tokenizer,
    reading,
)
from seqlab.errors import RunWriteError, SeqlabError
from seqlab.runs import CHECKPOINTS, CONFIG
from seqlab.runs.atomic import atomic_write_json

FORMAT_VERSION = 2
"""2: train_state.json's wall time is `wall_s` (was `wall_time_s`); version 1 still loads."""
WEIGHTS, META = "model.safetensors", "meta.json"


@dataclass
class Checkpoint:
    """A loaded checkpoint: the rebuilt model, its vocabulary and its metadata."""

    model: torch.nn.Module
    vocab: Any
    meta: dict[str, Any]
    path: Path


def save_checkpoint(folder: Path, model: torch.nn.Module, meta: dict[str, Any],
                    pointers: tuple[str, ...] = ("last",), keep_last: int = 1,
                    write_extra: Callable[[Path], None] | None = None) -> Path:
    """Write checkpoint/step_<step>/ and point `pointers` (last, best) at it.

    `write_extra(tmp_folder)` adds files (optimizer and RNG state) before the folder
    is published by its rename. A write that fails (no space, file too large, ...) raises
    RunWriteError; the temporary folder is removed and the pointers still name the
    previous checkpoint.
    """
    name = f"step_{meta['step']:06d}"
    tmp = folder / f".tmp-{name}"
    try:
        final = _write_step(folder, name, tmp, model, meta, write_extra)
        for pointer in pointers:
            atomic_write_json(folder / f"{pointer}.json", {"step": meta["step"], "dir": name})
    except (OSError, SafetensorError) as err:
        if isinstance(err, SafetensorError) and "I/O error" not in str(err):
            raise  # not the disk: a bug to see with its traceback
        shutil.rmtree(tmp, ignore_errors=True)
        reason = getattr(err, "strerror", None) or str(err).removeprefix("Error while serializing: ")
        raise RunWriteError(f"could not write checkpoint '{folder / name}': {reason}") from err
    _prune(folder, keep_last)
    return final


def _write_step(folder: Path, name: str, tmp: Path, model: torch.nn.Module, meta: dict[str, Any],
                write_extra: Callable[[Path], None] | None) -> Path:
    """Write the step folder under `tmp`, make it durable, rename it to `name`."""
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / name
    for stale in folder.glob(".tmp-*"):  # left by a process killed mid-write
        shutil.rmtree(stale, ignore_errors=True)
    tmp.mkdir()
    save_model(model, str(tmp / WEIGHTS))
    if write_extra is not None:
        write_extra(tmp)
    atomic_write_json(tmp / META, {"format_version": FORMAT_VERSION, **meta})
    for path in tmp.iterdir():  # on disk before the rename makes the folder visible
        _fsync(path)
    _fsync(tmp)
    if final.exists():  # re-saving a step (e.g. after a resume): replace it
        shutil.rmtree(final)
    tmp.rename(final)
    _fsync(folder)
    return final


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _prune(folder: Path, keep_last: int) -> None:
    """Delete step folders beyond the newest `keep_last`, never one a pointer names."""
    pinned = {_read_pointer(folder / f"{p}.json") for p in ("last", "best")}
    steps = sorted(p.name for p in folder.glob("step_*") if p.is_dir())
    for name in steps[:-keep_last] if keep_last > 0 else []:
        if name not in pinned:
            shutil.rmtree(folder / name, ignore_errors=True)


def _read_pointer(path: Path) -> str | None:
    """The step folder a pointer names, or None (missing or damaged: pruning keeps everything)."""
    name = (json_or_none(path) or {}).get("dir")
    return name if isinstance(name, str) else None


def load_fix(folder: Path) -> str:
    """What to do about a damaged file of the checkpoint in `folder` (read, not resumed)."""
    return (f"this checkpoint cannot be loaded: use another step folder of the run (under "
            f"{Path(folder).parent}), or train the run again")


def _pointed(folder: Path, which: str) -> Path | None:
    """The step folder `which`.json in a checkpoint/ folder names; None when there is no pointer."""
    pointer = folder / f"{which}.json"
    if not pointer.exists():
        return None
    fix = f"name a step folder instead ({folder / 'step_N'}), or train the run again"
    name = read_json(pointer, fix).get("dir")
    if not isinstance(name, str) or not name:
        raise damaged(pointer, "it names no step folder", fix)
    if not (folder / name).is_dir():
        raise damaged(pointer, f"it names '{name}', which is not there", fix)
    return folder / name


def resolve_checkpoint(path: Path, which: str = "last") -> Path:
    """A run folder, its checkpoint/ folder or a step folder -> the step folder to load."""
    path = Path(path)
    if not path.exists():
        raise SeqlabError(f"no such run folder or checkpoint: '{path}'")
    if (path / META).exists() or (path / WEIGHTS).exists():
        return path
    if path.is_file():
        raise SeqlabError(
            f"'{path}' is not a seqlab checkpoint (expected a run folder or a folder "
            f"with {WEIGHTS} and {META}); nothing was loaded"
        )
    folder = path / CHECKPOINTS if (path / CHECKPOINTS).is_dir() else path
    step = _pointed(folder, which)
    if step is None:
        if folder is path and not (path / CONFIG).exists():
            raise SeqlabError(f"'{path}' is not a seqlab run folder (no config.yaml, no checkpoint/)")
        raise SeqlabError(f"run folder '{path}' has no {which} checkpoint (checkpoint/{which}.json)")
    return step


def load_checkpoint(path: Path, which: str = "last", device: str | torch.device = "cpu") -> Checkpoint:
    """Rebuild the model a checkpoint describes and load its weights (no pickle involved)."""
    from omegaconf import OmegaConf

    from seqlab.registry import build_model

    folder = resolve_checkpoint(path, which)
    meta, vocab = read_meta(folder, load_fix(folder))
    with reading(folder / META, load_fix(folder)):
        model_cfg = OmegaConf.create(dict(meta["config"]["model"]))
    model = build_model(model_cfg, len(vocab))
    load_weights(model, folder, device)
    return Checkpoint(model.to(device), vocab, meta, folder)


def read_meta(folder: Path, fix: str) -> tuple[dict[str, Any], Any]:
    """A step folder's meta.json, checked for a format this seqlab reads, and its tokenizer."""
    meta = read_json(folder / META, fix)
    version = meta.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise SeqlabError(
            f"checkpoint '{folder}' has format version {version}; this seqlab reads up to "
            f"{FORMAT_VERSION} (upgrade seqlab)"
        )
    with reading(folder / META, fix):
        vocab = read_tokenizer(meta["vocab"], folder / META, fix)
    return meta, vocab


def load_weights(model: torch.nn.Module, folder: Path, device: str | torch.device = "cpu",
                 fix: str | None = None) -> None:
    """Load a step folder's weights into `model`; a damaged file or a shape mismatch is one clear error."""
    try:
        load_weights_into(model, folder / WEIGHTS, fix or load_fix(folder), device)
    except RuntimeError as err:
        first = str(err).strip().splitlines()[0]
        raise SeqlabError(f"checkpoint '{folder}': {WEIGHTS} does not fit the model its {META} "
                          f"describes ({first})") from None
