"""The callbacks a training run is made of; `default_callbacks` is their order.

Order matters where one reads what another wrote: the training record is started before
the FLOP meter adds to it and before an evaluation adds its metrics; metrics.jsonl gets the
record before a checkpoint of its step is written, and the checkpoint comes before samples
and pictures, which may fail without costing it; trackers and the progress line see each
record after metrics.jsonl has it.
"""

from __future__ import annotations

from seqlab.engine.callbacks.base import Callback, CallbackList
from seqlab.engine.callbacks.checkpointing import Checkpointer
from seqlab.engine.callbacks.evaluation import Evaluator
from seqlab.engine.callbacks.flop_meter import FlopMeter
from seqlab.engine.callbacks.loss_plot import LossPlot
from seqlab.engine.callbacks.metrics import MetricsFile, TrainMetrics
from seqlab.engine.callbacks.progress import ProgressDisplay
from seqlab.engine.callbacks.samples import SampleWriter, TaskArtifacts

__all__ = ["Callback", "CallbackList", "default_callbacks"]


def default_callbacks() -> list[Callback]:
    """Every run's callbacks, in the order they are called."""
    return [TrainMetrics(), FlopMeter(), Evaluator(), MetricsFile(), Checkpointer(), SampleWriter(),
            TaskArtifacts(), LossPlot(), ProgressDisplay()]
