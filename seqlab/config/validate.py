"""Value checks that a schema's types cannot express (sizes > 0, known choices)."""

from __future__ import annotations

from typing import Any

from seqlab.errors import SeqlabError

POSITIVE = {
    "trainer": ("max_steps", "batch_size", "lr", "eval_every", "eval_batches", "log_every"),
    "model": ("embed_size", "hidden_size", "num_layers", "n_layer", "n_head", "n_embd", "block_size"),
    "task": ("seq_len", "max_chars"),
}
NON_NEGATIVE = {
    "trainer": ("weight_decay", "grad_clip", "warmup_steps", "sample_tokens", "num_samples"),
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
    if cfg.trainer.sample_temperature <= 0:
        raise SeqlabError(f"trainer.sample_temperature must be positive, got {cfg.trainer.sample_temperature}")
