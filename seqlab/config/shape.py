"""What a run's configs say about its shape before any data is read: the window, one example's
(source, target) lengths, the vocabulary size. `seqlab flops` and reproduce's scheduler count
FLOPs from these; a run counts them from the task it builds (`Task.flop_lengths`), and the two
agree (tests/test_flops_seq2seq.py)."""

from __future__ import annotations

from typing import Any

from seqlab.registry import load, model_spec, task_spec


def config_window(task_cfg: Any) -> int | None:
    """Tokens per training window as the task's config states it (no data read)."""
    field = task_spec(task_cfg.name).window_field
    return None if field is None else int(task_cfg[field])


def config_flop_lengths(model_cfg: Any, task_cfg: Any) -> tuple[int, int | None] | None:
    """What a FLOP model counts per example, from the configs alone (as `Task.flop_lengths` once
    the data is built): (source, decoder tokens) for an encoder-decoder on a task of pairs, else
    (tokens the model reads, None); None when the task has no fixed window."""
    spec = task_spec(task_cfg.name)
    if spec.example_lengths is None:
        window = config_window(task_cfg)
        return None if window is None else (window, None)
    source, target = load(spec.example_lengths)(task_cfg)
    return (source, target) if model_spec(model_cfg.name).encoder_decoder else (source + target, None)


def config_vocab_size(task_cfg: Any) -> int:
    """The task's vocabulary size from its config alone: exact for a generated task, else the hint."""
    spec = task_spec(task_cfg.name)
    return spec.vocab_hint if spec.vocab_size is None else load(spec.vocab_size)(task_cfg)
