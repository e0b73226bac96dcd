"""`trainer.init_from=RUN`: start a new run from another run's weights (fine-tuning).

Every tensor whose name and shape match is copied from RUN's best checkpoint; the rest
of the model keeps its fresh init. Nothing else carries over (optimiser, step, data
position: that is what `trainer.resume` is for). The tokenizers must be the same
(characters, bytes, or the same BPE merges), or token ids would silently mean different things.
A source of which no tensor fits (a run of another model family) is refused unless
`trainer.init_from_partial=true`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from seqlab.data.saved import check_tensors, read_tensors
from seqlab.data.tokenizers import same_tokenizer
from seqlab.errors import SeqlabError, warn
from seqlab.runs.checkpoint import WEIGHTS, read_meta, resolve_checkpoint


def source_fix() -> str:
    return "trainer.init_from cannot start from it: name another run or step folder, or train the source again"


def check_source(run: str | Path) -> Path:
    """The step folder `trainer.init_from` names, with its meta.json, tokenizer and tensor headers
    checked (cheap: no tensor is loaded), before anything is written."""
    folder = resolve_checkpoint(Path(run).expanduser(), "best")
    read_meta(folder, source_fix())
    check_tensors(folder / WEIGHTS, source_fix())
    return folder


def read_source(run: str | Path, device: torch.device | str
                ) -> tuple[Path, Any, dict[str, Any], dict[str, torch.Tensor]]:
    """The best checkpoint of `run` (or the step folder it names): folder, tokenizer, meta, weights."""
    folder = resolve_checkpoint(Path(run).expanduser(), "best")
    meta, vocab = read_meta(folder, source_fix())
    return folder, vocab, meta, read_tensors(folder / WEIGHTS, source_fix(), device)


def init_from(model: torch.nn.Module, run: str | Path, vocab: Any, device: torch.device | str = "cpu",
              announce: bool = True, partial: bool = False) -> dict[str, Any]:
    """Copy the matching tensors of `run` into `model`; returns what happened, for summary.json.

    Prints one line: how many tensors were loaded, and the names of the new ones (in the
    model, not in the checkpoint or of another shape) and of the dropped ones (in the
    checkpoint, not used). A tied weight counts as loaded with its partner. When no tensor
    matches (a run of another model family), the run is refused unless `partial` (the
    config's trainer.init_from_partial) says to start from it anyway.
    """
    folder, source_vocab, meta, saved = read_source(run, device)
    if not same_tokenizer(source_vocab, vocab):
        raise SeqlabError(f"trainer.init_from: '{run}' was trained with a {source_vocab.kind} tokenizer of "
                          f"{len(source_vocab)} ids, this task uses a {vocab.kind} tokenizer of {len(vocab)} ids, "
                          f"and they differ: the runs must share one vocabulary")
    own = model.state_dict()
    loaded = {k: v for k, v in saved.items() if k in own and own[k].shape == v.shape}
    if not loaded and not partial:
        raise SeqlabError(f"trainer.init_from: no tensor of '{run}' (a {meta.get('model', '?')} run) matches this "
                          f"model by name and shape, so nothing would be loaded; set "
                          f"trainer.init_from_partial=true to start from it all the same")
    model.load_state_dict(loaded, strict=False)
    loaded_storage = {own[k].data_ptr() for k in loaded}  # tied partners share storage
    new = sorted(k for k in own if k not in loaded and own[k].data_ptr() not in loaded_storage)
    dropped = sorted(k for k in saved if k not in loaded)
    report = {"run": str(run), "checkpoint": str(folder), "loaded": len(loaded), "new": new, "dropped": dropped}
    if announce:
        print(f"init_from {folder}: loaded {len(loaded)} tensors; new: {', '.join(new) or 'none'}; "
              f"dropped: {', '.join(dropped) or 'none'}", flush=True)
        if not loaded:
            warn(f"trainer.init_from: nothing of '{run}' was loaded (trainer.init_from_partial=true): "
                 "the model starts from its own init")
    return report
