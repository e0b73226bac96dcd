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

from seqlab.config.models import GRUConfig
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
