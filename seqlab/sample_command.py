"""What `seqlab sample` does once its arguments are parsed: free text for a language-model run,
the model's answer to a typed source for a synthetic-task run, each with the warnings a user
needs (a source outside the lengths the run learned, an empty prompt).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

from seqlab.errors import SeqlabError, warn


@dataclass(frozen=True)
class SampleRequest:
    """The sampling flags of `seqlab sample`, as given."""

    prompt: str
    max_new_tokens: int
    temperature: float
    top_k: int
    top_p: float
    num_samples: int
    seed: int | None
    allow_unknown: bool


def sample_command(run: Path, request: SampleRequest, source: str | None, checkpoint: str, device: str) -> None:
    """Load the run's checkpoint and print samples (or the answer to `source`) on stdout."""
    from seqlab.runs.reader import require_run
    from seqlab.sampling import check_finite_weights, check_sampling_args

    r = request
    check_sampling_args(r.max_new_tokens, r.temperature, r.top_k, r.top_p, r.num_samples)
    if checkpoint not in ("last", "best"):
        raise SeqlabError(f"--checkpoint must be last or best, got '{checkpoint}'")
    require_run(run)
    from seqlab.engine.device import resolve_device
    from seqlab.registry import TASKS
    from seqlab.runs.checkpoint import load_checkpoint

    dev = resolve_device(device)
    ckpt = load_checkpoint(run, checkpoint, dev)
    check_finite_weights(ckpt.model, f"checkpoint '{ckpt.path}'")
    task = ckpt.meta.get("task", "tinystories")
    if source is not None or (task in TASKS and TASKS[task].kind != "lm"):
        if source is None:  # free-text sampling means nothing to a copy or sort model
            raise SeqlabError(f"this run learned task '{task}': give it a source, e.g. --source \"3 1 4 1 5\"")
        typer.echo(answer(ckpt, source, task, dev))
        return
    if r.prompt == "":
        warn("empty --prompt: each sample starts a new story (from the story separator)")
    print_samples(ckpt, r, dev)


def print_samples(ckpt: Any, r: SampleRequest, dev: Any) -> None:
    """Each sample with its header, together on stdout (a pipe keeps them in order)."""
    from seqlab.sampling import sample_texts

    texts = sample_texts(ckpt.model, ckpt.vocab, r.prompt, r.num_samples, r.max_new_tokens, r.temperature,
                         r.top_k, r.top_p, r.seed, dev, r.allow_unknown)
    for i, text in enumerate(texts):
        if r.num_samples > 1:
            typer.echo(typer.style(f"--- sample {i + 1} ---", fg="cyan"))
        typer.echo(text)


def answer(ckpt: Any, source: str, task: str, dev: Any) -> str:
    """The model's answer to `source`, after a warning if its length is one the run never saw."""
    from seqlab.tasks.synthetic import parse_source, translate

    symbols = parse_source(ckpt.vocab, source)
    seen = trained_source_lengths(ckpt.meta.get("config") or {})
    if seen and len(symbols) not in seen:
        shown = " and ".join(str(n) for n in sorted(seen))
        warn(f"this run was trained and tested on sources of {shown} symbols; a source of {len(symbols)} "
             "lies outside them and its answer is likely wrong")
    from omegaconf import OmegaConf

    from seqlab.registry import model_spec

    model_cfg = OmegaConf.create(ckpt.meta["config"]["model"])
    return translate(ckpt.model, ckpt.vocab, source, task, model_cfg, model_spec(model_cfg.name), dev)


def trained_source_lengths(config: dict[str, Any]) -> set[int]:
    """Source lengths (in symbols) of the run's training and test examples, from its config:
    drawn from the task's own generator, so each task's source layout is its own business."""
    import torch

    from seqlab.tasks.synthetic_data import SYNTHETIC

    task = config.get("task") or {}
    spec = SYNTHETIC.get(task.get("name"))
    if spec is None:
        return set()
    gen = spec.generate
    lengths = {int(task["length"]), *(int(n) for n in task.get("eval_lengths") or [])}
    k, g = int(task.get("num_symbols", 10)), torch.Generator().manual_seed(0)
    return {int(gen(1, n, k, g)[0].shape[1]) for n in lengths}
