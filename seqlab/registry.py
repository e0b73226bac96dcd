"""Name -> what a model family or task is and what it can do: the one table of both.

A family declares its specs in its own package (seqlab/models/<family>/__init__.py, `SPECS`);
the tasks declare theirs in seqlab/tasks/__init__.py (`TASKS`). The families are listed once,
below. Everything the engine, the tasks and the analyses need to know about a family or a task
is a field of its spec: nothing downstream asks a model or a task what it is.
"""

from __future__ import annotations

from typing import Any

from seqlab.errors import SeqlabError
from seqlab.models import bigram, encoder, mamba, mingru, recurrent, seq2seq, transformer
from seqlab.models.spec import TASK_KINDS, FlopModel, ModelSpec, load
from seqlab.tasks import TASKS
from seqlab.tasks.spec import TaskSpec

__all__ = ["MODELS", "TASKS", "TASK_KINDS", "FlopModel", "ModelSpec", "TaskSpec", "build_model", "build_task",
           "check_serves", "explicit_config", "load", "model_spec", "pair", "task_spec"]

FAMILIES = (bigram, recurrent, transformer, seq2seq, encoder, mingru, mamba)
"""The model family packages: adding a family is one name here (and its folder)."""

MODELS: dict[str, ModelSpec] = {name: spec for family in FAMILIES for name, spec in family.SPECS.items()}


def _lookup(table: dict[str, Any], name: str, what: str) -> Any:
    try:
        return table[name]
    except KeyError:
        raise SeqlabError(f"unknown {what} '{name}'; known: {', '.join(sorted(table))}") from None


def model_spec(name: str) -> ModelSpec:
    """The family called `name`, or a SeqlabError listing the known ones."""
    return _lookup(MODELS, name, "model")


def task_spec(name: str) -> TaskSpec:
    """The task called `name`, or a SeqlabError listing the known ones."""
    return _lookup(TASKS, name, "task")


def build_model(model_cfg: Any, vocab_size: int) -> Any:
    """Build the model `model_cfg.name` names, for a vocabulary of `vocab_size` tokens."""
    return model_spec(model_cfg.name).build(model_cfg, vocab_size)


def build_task(task_cfg: Any) -> Any:
    """Build the task `task_cfg.name` names."""
    return load(task_spec(task_cfg.name).builder)(task_cfg)


def explicit_config(model_cfg: Any) -> Any:
    """`model_cfg` with its family's explicit implementation (same weights, every matmul visible)."""
    from omegaconf import OmegaConf

    return OmegaConf.merge(OmegaConf.create(model_cfg), dict(model_spec(model_cfg.name).explicit_impl))


def pair(model_cfg: Any, task: Any) -> ModelSpec:
    """Check that the model can serve the built `task` and tell the task how it is fed.

    Fails before any weights exist when the task's kind is not served, or when one example
    needs more positions than a bounded model holds; returns the model's spec.
    """
    spec = model_spec(model_cfg.name)
    check_serves(model_cfg.name, task.name, task.kind)
    task.bind_model(spec.encoder_decoder, model_cfg.block_size if spec.bounded_context else None)
    need = task.context_length()
    if spec.bounded_context and need is not None and need > model_cfg.block_size:
        raise SeqlabError(f"task '{task.name}' needs {need} positions per example; model.block_size is "
                          f"{model_cfg.block_size}: raise model.block_size or lower task.length")
    return spec


def check_serves(model_name: str, task_name: str, kind: str | None = None) -> None:
    """A SeqlabError when the model family cannot serve the task's kind."""
    spec = model_spec(model_name)
    kind = kind or task_spec(task_name).kind
    if kind not in spec.serves:
        can = sorted(t for t, s in TASKS.items() if s.kind in spec.serves)
        raise SeqlabError(f"model '{model_name}' cannot serve task '{task_name}' ({kind}); it serves "
                          f"{'/'.join(spec.serves)} tasks: {', '.join(can)}")
