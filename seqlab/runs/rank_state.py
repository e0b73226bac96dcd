"""Every rank's random streams in a checkpoint, so a multi-process run resumes exactly.

Rank 0's streams are in train_state.json / optimizer.safetensors as for one process; the
other ranks' go to ranks.safetensors (torch and data generators) and ranks.json (numpy and
python), gathered to rank 0 when it writes. A run resumes only at the world size it was
trained at: each rank's data stream is its own, and another number of them would not
continue the same data order (the README says so; the error names the size to use).
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save_file

from seqlab.data.saved import read_json, read_tensors, reading
from seqlab.errors import SeqlabError
from seqlab.runs.train_state import TrainState, resume_fix

TENSORS, OTHERS = "ranks.safetensors", "ranks.json"


def own_rank_state(data_rng: torch.Generator) -> dict[str, Any]:
    """This process's random streams (the Trainer gathers every rank's to rank 0 to write them)."""
    np_state = np.random.get_state()
    py_state = random.getstate()
    return {"torch": torch.get_rng_state(), "data": data_rng.get_state(),
            "numpy": [np_state[0], np_state[1].tolist(), *np_state[2:]],
            "python": [py_state[0], list(py_state[1]), py_state[2]]}


def write_rank_states(folder: Path, states: list[dict[str, Any]] | None) -> None:
    """ranks.safetensors and ranks.json for ranks 1..N-1 into a checkpoint being written."""
    if not states:
        return
    save_file({f"{r}.{k}": s[k] for r, s in enumerate(states) if r for k in ("torch", "data")},
              str(folder / TENSORS))
    (folder / OTHERS).write_text(json.dumps({str(r): {"numpy": s["numpy"], "python": s["python"]}
                                             for r, s in enumerate(states) if r}))


def restore_rank_state(folder: Path, state: TrainState, rank: int, world_size: int,
                       data_rng: torch.Generator) -> None:
    """Check the world size, then give rank r > 0 its own streams back (rank 0 has them already)."""
    if state.world_size != world_size:
        raise SeqlabError(f"checkpoint '{folder}' was trained on {state.world_size} process(es); resume it "
                          f"with trainer.devices={state.world_size} (each rank's data stream is its own)")
    if rank == 0:
        return
    fix = resume_fix(folder)
    tensors = read_tensors(folder / TENSORS, fix)
    with reading(folder / TENSORS, fix):
        torch.set_rng_state(tensors[f"{rank}.torch"])
        data_rng.set_state(tensors[f"{rank}.data"])
    others = read_json(folder / OTHERS, fix)
    with reading(folder / OTHERS, fix):
        kind, keys, *rest = others[str(rank)]["numpy"]
        np.random.set_state((kind, np.array(keys, dtype=np.uint32), *rest))
        version, internal, gauss = others[str(rank)]["python"]
        random.setstate((version, tuple(internal), gauss))
