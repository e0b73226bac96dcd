"""Name -> model and task builders.

The table is static and lazy: each entry names its config schema (a dataclass, cheap
to import) and its builder as "module:function", imported only when something is
built, so `seqlab models` and `seqlab --help` never import torch.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from seqlab.config.models import GRUConfig, LSTMConfig, RNNConfig, TransformerConfig
from seqlab.config.tasks import TinyStoriesConfig
from seqlab.errors import SeqlabError


@dataclass(frozen=True)
class Spec:
    """One registry entry."""

    config: type
    """Schema of its config group entries."""
    builder: str
    """"module:function" that builds it from its config."""
    summary: str
    """One line for `seqlab models` / `seqlab tasks`."""
    kind: str = "lm"
    """Models: the task kinds they can serve; tasks: the kind they are."""

    def load_builder(self) -> Callable[..., Any]:
        module, _, attr = self.builder.partition(":")
        return getattr(importlib.import_module(module), attr)


MODELS: dict[str, Spec] = {
    "gru": Spec(
        GRUConfig,
        "seqlab.models.gru:build_gru",
        "GRU language model (Cho et al. 2014); impl=fused (nn.GRU) or scratch (seed equations)",
    ),
    "rnn": Spec(
        RNNConfig,
        "seqlab.models.rnn:build_rnn",
        "Elman RNN language model, tanh or relu, any depth; impl=fused (nn.RNN) or scratch",
    ),
    "lstm": Spec(
        LSTMConfig,
        "seqlab.models.lstm:build_lstm",
        "LSTM language model (Hochreiter & Schmidhuber 1997); impl=fused (nn.LSTM) or scratch",
    ),
    "transformer": Spec(
        TransformerConfig,
        "seqlab.models.transformer:build_transformer",
        "nanoGPT-style decoder-only transformer; attention=sdpa|manual, KV-cached generation",
    ),
}

TASKS: dict[str, Spec] = {
    "tinystories": Spec(
        TinyStoriesConfig,
        "seqlab.tasks.tinystories:build_tinystories",
        "character-level language modelling on TinyStories (datasets.load_dataset)",
    ),
}


def lookup(table: dict[str, Spec], name: str, what: str) -> Spec:
    """The entry called `name`, or a SeqlabError listing the known names."""
    try:
        return table[name]
    except KeyError:
        raise SeqlabError(
            f"unknown {what} '{name}'; known: {', '.join(sorted(table))}"
        ) from None


def build_model(model_cfg: Any, vocab_size: int):
    """Build the model `model_cfg.name` names, for a vocabulary of `vocab_size` tokens."""
    spec = lookup(MODELS, model_cfg.name, "model")
    return spec.load_builder()(model_cfg, vocab_size)


def build_task(task_cfg: Any):
    """Build the task `task_cfg.name` names."""
    spec = lookup(TASKS, task_cfg.name, "task")
    return spec.load_builder()(task_cfg)


def model_presets() -> list[tuple[str, str]]:
    """(preset, family) for every conf/model/*.yaml, read without composing."""
    import yaml

    from seqlab.config.paths import config_dir

    found = []
    for path in sorted((config_dir() / "model").glob("*.yaml")):
        data = yaml.safe_load(path.read_text()) or {}
        family = data.get("name") or next(
            (d for d in data.get("defaults", []) if isinstance(d, str) and d in MODELS), path.stem)
        found.append((path.stem, family))
    return found
