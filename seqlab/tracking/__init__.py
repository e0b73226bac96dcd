"""Experiment trackers (TensorBoard, MLflow, W&B): rank-0 callbacks that mirror a run.

The run folder stays the source of truth; `logger=[tensorboard,mlflow]` adds trackers
that copy it live. The tracking packages are an optional extra (`seqlab[tracking]`) and
are imported only when a tracker starts.
"""

from __future__ import annotations

from typing import Any

from seqlab.errors import SeqlabError
from seqlab.tracking.base import Callback, Tracker
from seqlab.tracking.mlflow_tracker import MLflowTracker
from seqlab.tracking.tensorboard_tracker import TensorBoardTracker
from seqlab.tracking.wandb_tracker import WandbTracker

TRACKERS: dict[str, type[Tracker]] = {t.name: t for t in (TensorBoardTracker, MLflowTracker, WandbTracker)}


def build_trackers(cfg: Any) -> list[Callback]:
    """One tracker per entry of the config's `logger` group, in the order given."""
    trackers: list[Callback] = []
    for name, settings in (cfg.get("logger") or {}).items():
        if name not in TRACKERS:
            raise SeqlabError(f"logger '{name}' is not a tracker seqlab has; available: {', '.join(TRACKERS)}")
        trackers.append(TRACKERS[name](settings))
    return trackers


__all__ = ["Callback", "Tracker", "TRACKERS", "build_trackers"]
