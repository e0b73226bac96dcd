"""`trainer.init_from=RUN`: start a new run from another run's weights (fine-tuning).

Every tensor whose name and shape match is copied from RUN's best checkpoint; the rest
of the model keeps its fresh init. Nothing else carries over (optimiser, step, data
position: that is what `trainer.resume` is for). The tokenizers must be the same
(characters, bytes, or the same BPE merges), or token ids would silently mean different things.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file

from seqlab.data.tokenizers import same_tokenizer
from seqlab.data.tokenizers.char import CharVocab
from seqlab.errors import SeqlabError
from seqlab.runs.checkpoint import META, WEIGHTS, resolve_checkpoint


def read_source(run: str | Path, device: torch.device | str) -> tuple[Path, CharVocab, dict[str, torch.Tensor]]:
    """The best checkpoint of `run` (or the step folder it names): folder, vocabulary, weights."""
    folder = resolve_checkpoint(Path(run).expanduser(), "best")
    try:
        meta = json.loads((folder / META).read_text())
        weights = load_file(str(folder / WEIGHTS), device=str(device))
    except (OSError, ValueError, KeyError) as err:
        raise SeqlabError(f"trainer.init_from: cannot read checkpoint '{folder}' ({err})") from None
    return folder, CharVocab.from_json(meta["vocab"]), weights


def init_from(model: torch.nn.Module, run: str | Path, vocab: CharVocab, device: torch.device | str = "cpu",
              announce: bool = True) -> dict[str, Any]:
    """Copy the matching tensors of `run` into `model`; returns what happened, for summary.json.

    Prints one line: how many tensors were loaded, and the names of the new ones (in the
    model, not in the checkpoint or of another shape) and of the dropped ones (in the
    checkpoint, not used). A tied weight counts as loaded with its partner.
    """
    folder, source_vocab, saved = read_source(run, device)
    if not same_tokenizer(source_vocab, vocab):
        raise SeqlabError(f"trainer.init_from: '{run}' was trained on a {len(source_vocab)}-token vocabulary, "
                          f"this task has {len(vocab)} tokens and they differ: the runs must share one vocabulary")
    own = model.state_dict()
    loaded = {k: v for k, v in saved.items() if k in own and own[k].shape == v.shape}
    model.load_state_dict(loaded, strict=False)
    loaded_storage = {own[k].data_ptr() for k in loaded}  # tied partners share storage
    new = sorted(k for k in own if k not in loaded and own[k].data_ptr() not in loaded_storage)
    dropped = sorted(k for k in saved if k not in loaded)
    report = {"run": str(run), "checkpoint": str(folder), "loaded": len(loaded), "new": new, "dropped": dropped}
    if announce:
        print(f"init_from {folder}: loaded {len(loaded)} tensors; new: {', '.join(new) or 'none'}; "
              f"dropped: {', '.join(dropped) or 'none'}", flush=True)
    return report
