"""Everything a resumed run needs beyond the weights: optimiser, RNG streams, counters.

Stored next to the weights as safetensors (tensors) + JSON (everything else), so a
resume is bit-exact on CPU and nothing is ever unpickled.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from safetensors.torch import save_file

from seqlab.data.saved import check_tensors, read_json, read_tensors, reading
from seqlab.errors import SeqlabError
from seqlab.runs.atomic import atomic_write_json


class Stateful(Protocol):
    """An optimiser as a checkpoint sees it: torch.optim's state_dict layout, out and in."""

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, saved: dict[str, Any]) -> None: ...


OPTIMIZER, STATE = "optimizer.safetensors", "train_state.json"


@dataclass
class TrainState:
    """Counters that describe how far a run has come."""

    step: int = 0
    tokens: int = 0
    train_time_s: float = 0.0
    wall_s: float = 0.0
    """Wall-clock seconds of the run so far (the same name in metrics.jsonl and summary.json)."""
    best_val_loss: float | None = None
    best_val_bpc: float | None = None
    last_eval: dict[str, float] | None = None
    skipped_steps: int = 0
    loss_sum: float = 0.0
    """Training loss summed since the last metrics record (so a resume logs the same means)."""
    loss_count: int = 0
    world_size: int = 1
    """Processes the run trains on: its data streams (one per rank) resume only at this size."""


def save_train_state(folder: Path, state: TrainState, optimizer: Stateful,
                     data_rng: torch.Generator) -> None:
    """Write optimizer.safetensors and train_state.json into a checkpoint folder."""
    opt = optimizer.state_dict()
    tensors = {f"state.{i}.{k}": v.detach().cpu().contiguous()
               for i, slots in opt["state"].items() for k, v in slots.items() if torch.is_tensor(v)}
    tensors["rng.torch"] = torch.get_rng_state()
    tensors["rng.data"] = data_rng.get_state()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = s
    save_file(tensors, str(folder / OPTIMIZER))
    np_state = np.random.get_state()
    py_state = random.getstate()
    atomic_write_json(folder / STATE, {
        "state": asdict(state),
        "param_groups": opt["param_groups"],
        "scalars": {f"{i}.{k}": v for i, slots in opt["state"].items() for k, v in slots.items()
                    if not torch.is_tensor(v)},
        "rng_numpy": [np_state[0], np_state[1].tolist(), *np_state[2:]],
        "rng_python": [py_state[0], list(py_state[1]), py_state[2]],
    })


def resume_fix(folder: Path) -> str:
    """What to do about a damaged file of the checkpoint a resume needs."""
    run = Path(folder).parent.parent
    return (f"seqlab resume needs it whole, and nothing was changed: restore it, or start a new run "
            f"from this run's weights with trainer.init_from={run}")


def check_resumable(folder: Path) -> None:
    """Every file a resume reads from step folder `folder`, checked before anything is written:
    the tensors' headers (a cut-off file fails here) and the JSON files (every rank's too)."""
    from seqlab.runs.checkpoint import META, WEIGHTS

    fix = resume_fix(folder)
    present = {p.name for p in Path(folder).iterdir()}
    for name in sorted({WEIGHTS, OPTIMIZER} | {n for n in present if n.endswith(".safetensors")}):
        check_tensors(folder / name, fix)
    for name in sorted({META, STATE} | {n for n in present if n.endswith(".json")}):
        read_json(folder / name, fix)


def load_train_state(folder: Path, optimizer: Stateful,
                     data_rng: torch.Generator) -> TrainState:
    """Restore the optimiser and every RNG stream from a checkpoint folder; returns the counters."""
    fix = resume_fix(folder)
    tensors = read_tensors(folder / OPTIMIZER, fix)
    meta = read_json(folder / STATE, fix)
    with reading(folder / STATE, fix):
        slots = _optimizer_slots(tensors, meta["scalars"])
        groups, numpy_state, python_state = meta["param_groups"], meta["rng_numpy"], meta["rng_python"]
        saved = dict(meta["state"])
    try:
        optimizer.load_state_dict({"state": slots, "param_groups": groups})
    except (ValueError, KeyError) as err:
        raise SeqlabError(f"checkpoint '{folder}': optimizer state does not fit this model ({err})") from None
    with reading(folder / OPTIMIZER, fix):
        torch.set_rng_state(tensors["rng.torch"])
        data_rng.set_state(tensors["rng.data"])
    cuda = [tensors[k] for k in sorted(tensors) if k.startswith("rng.cuda.")]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda)
    with reading(folder / STATE, fix):
        kind, keys, *rest = numpy_state
        np.random.set_state((kind, np.array(keys, dtype=np.uint32), *rest))
        version, internal, gauss = python_state
        random.setstate((version, tuple(internal), gauss))
    known = {f.name for f in fields(TrainState)}
    if "wall_time_s" in saved:  # checkpoints of format 1 named it so
        saved.setdefault("wall_s", saved.pop("wall_time_s"))
    return TrainState(**{k: v for k, v in saved.items() if k in known})


def _optimizer_slots(tensors: dict[str, torch.Tensor], scalars: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """The optimiser's per-parameter state from its tensors (`state.<i>.<name>`) and scalars."""
    slots: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith("state."):
            _, i, name = key.split(".", 2)
            slots.setdefault(int(i), {})[name] = value
    for key, value in scalars.items():
        i, name = key.split(".", 1)
        slots.setdefault(int(i), {})[name] = value
    return slots
