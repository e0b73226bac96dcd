"""Switching a model to evaluation mode for a while, and back whatever happens."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def eval_mode(model: torch.nn.Module) -> Iterator[torch.nn.Module]:
    """`model.eval()` inside the block; its previous mode after it, also when the block raises
    (a failing sample must not leave dropout off for the rest of a run)."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)
