"""Value checks that a schema's types cannot express (finite numbers, sizes > 0, ranges, known choices).

Run before anything else (seqlab/launch/preflight.py): a value out of range is one line naming the
key, never a traceback from the optimiser or a run that diverges on its first step.
"""

from __future__ import annotations

import math
from typing import Any

from seqlab.errors import SeqlabError

CHECKED_GROUPS = ("trainer", "model", "task", "logger")
"""Every number in these groups must be finite (nan and inf are refused, whatever the key)."""
POSITIVE = {
    "trainer": ("max_steps", "batch_size", "lr", "eval_every", "eval_batches", "log_every",
                "grad_accum_steps", "devices", "dist_timeout_s", "flops_budget", "peak_flops"),
    "model": ("embed_size", "hidden_size", "num_layers", "n_layer", "n_head", "n_embd", "block_size"),
    "task": ("seq_len", "max_chars"),
}
PRECISIONS = ("fp32", "bf16", "fp16")  # seqlab.engine.precision implements them
NON_NEGATIVE = {
    "trainer": ("weight_decay", "grad_clip", "warmup_steps", "sample_tokens", "num_samples",
                "checkpoint_every", "keep_last", "max_skipped_steps", "sample_temperature"),
    "model": ("dropout",),
}
BELOW_ONE = {"trainer": ("beta1", "beta2"), "model": ("dropout",)}
"""Values in [0, 1): Adam's decays (1 would never forget), dropout (1 drops everything)."""
FRACTIONS = {"trainer": ("min_lr_ratio",), "task": ("mask_rate", "mask_token", "random_token")}
"""Values in [0, 1]."""


def validate_config(cfg: Any) -> None:
    """Raise SeqlabError naming the first key whose value cannot work."""
    check_finite(cfg)
    for group, keys in POSITIVE.items():
        for key, value in _values(cfg, group, keys):
            if value <= 0:
                raise SeqlabError(f"{group}.{key} must be positive, got {value}")
    for group, keys in NON_NEGATIVE.items():
        for key, value in _values(cfg, group, keys):
            if value < 0:
                raise SeqlabError(f"{group}.{key} must not be negative, got {value}")
    for group, keys in BELOW_ONE.items():
        for key, value in _values(cfg, group, keys):
            if not 0 <= value < 1:
                raise SeqlabError(f"{group}.{key} must be in [0, 1), got {value}")
    for group, keys in FRACTIONS.items():
        for key, value in _values(cfg, group, keys):
            if not 0 <= value <= 1:
                raise SeqlabError(f"{group}.{key} must be in [0, 1], got {value}")
    if cfg.trainer.get("precision", "fp32") not in PRECISIONS:
        raise SeqlabError(f"trainer.precision must be one of {', '.join(PRECISIONS)}, "
                          f"got '{cfg.trainer.precision}'")
    validate_pairing(cfg)


def _values(cfg: Any, group: str, keys: tuple[str, ...]) -> list[tuple[str, Any]]:
    """(key, value) of the keys `group` has, set to a number (None means: not used)."""
    section = cfg.get(group) or {}
    return [(key, section.get(key)) for key in keys
            if isinstance(section.get(key), int | float) and not isinstance(section.get(key), bool)]


def check_finite(cfg: Any) -> None:
    """nan or inf anywhere in the checked groups: one line naming the key."""
    from omegaconf import OmegaConf

    for group in CHECKED_GROUPS:
        section = cfg.get(group)
        if section is None or not OmegaConf.is_config(section):
            continue
        for key, value in _leaves(OmegaConf.to_container(section, resolve=False), group):
            if isinstance(value, float) and not math.isfinite(value):
                raise SeqlabError(f"{key} must be a finite number, got {value}")


def _leaves(data: Any, prefix: str) -> list[tuple[str, Any]]:
    if isinstance(data, dict):
        return [leaf for k, v in data.items() for leaf in _leaves(v, f"{prefix}.{k}")]
    if isinstance(data, list):
        return [leaf for i, v in enumerate(data) for leaf in _leaves(v, f"{prefix}[{i}]")]
    return [(prefix, data)]


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
