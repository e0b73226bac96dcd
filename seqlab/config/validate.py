"""Value checks that a schema's types cannot express (sizes > 0, known choices)."""

from __future__ import annotations

import sys
from typing import Any

from seqlab.errors import SeqlabError

POSITIVE = {
    "trainer": ("max_steps", "batch_size", "lr", "eval_every", "eval_batches", "log_every"),
    "model": ("embed_size", "hidden_size", "num_layers", "n_layer", "n_head", "n_embd", "block_size"),
    "task": ("seq_len", "max_chars"),
}
PRECISIONS = ("fp32", "bf16")  # seqlab.engine.precision implements them
NON_NEGATIVE = {
    "trainer": ("weight_decay", "grad_clip", "warmup_steps", "sample_tokens", "num_samples",
                "checkpoint_every", "keep_last", "max_skipped_steps"),
    "model": ("dropout",),
}


def validate_config(cfg: Any) -> None:
    """Raise SeqlabError naming the first key whose value cannot work."""
    for group, keys in POSITIVE.items():
        for key in keys:
            value = cfg[group].get(key)
            if value is not None and value <= 0:
                raise SeqlabError(f"{group}.{key} must be positive, got {value}")
    for group, keys in NON_NEGATIVE.items():
        for key in keys:
            value = cfg[group].get(key)
            if value is not None and value < 0:
                raise SeqlabError(f"{group}.{key} must not be negative, got {value}")
    if cfg.model.get("dropout", 0) >= 1:
        raise SeqlabError(f"model.dropout must be below 1, got {cfg.model.dropout}")
    if cfg.trainer.get("precision", "fp32") not in PRECISIONS:
        raise SeqlabError(f"trainer.precision must be one of {', '.join(PRECISIONS)}, "
                          f"got '{cfg.trainer.precision}'")
    if cfg.trainer.sample_temperature <= 0:
        raise SeqlabError(f"trainer.sample_temperature must be positive, got {cfg.trainer.sample_temperature}")
    validate_pairing(cfg)
    warn_if_sees_answer(cfg)


def validate_pairing(cfg: Any) -> None:
    """Model-and-task constraints: a transformer's context must hold one training example."""
    model, task = cfg.model, cfg.task
    n_embd, n_head = model.get("n_embd"), model.get("n_head")
    if n_embd is not None and n_head is not None and n_embd % n_head:
        raise SeqlabError(f"model.n_embd={n_embd} is not a multiple of model.n_head={n_head}")
    block = model.get("block_size")
    if block is not None and task.get("seq_len") is not None and task.seq_len > block:
        raise SeqlabError(
            f"task.seq_len={task.seq_len} exceeds model.block_size={block}; "
            f"raise model.block_size or lower task.seq_len"
        )


def warn_if_sees_answer(cfg: Any) -> None:
    """One line on stderr when a non-causal model trains on a language-model task: each
    position can read the character it is asked to predict, so its loss means little."""
    from seqlab.registry import MODELS, TASKS

    task, model = TASKS.get(cfg.task.get("name")), MODELS.get(cfg.model.get("name"))
    if cfg.model.get("causal", True) is False and task is not None and task.kind == "lm" \
            and model is not None and "lm" in model.serves:  # a model that cannot serve it fails later
        print(f"warning: model.causal=false on the language-model task '{cfg.task.name}': every position "
              "sees the next character it predicts (the loss will look good and mean little)", file=sys.stderr)
