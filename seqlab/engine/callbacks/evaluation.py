"""Held-out evaluation at its cadence; the Trainer then announces the metrics (on_eval)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from seqlab.engine.callbacks.base import Callback
from seqlab.engine.precision import autocast

if TYPE_CHECKING:
    from seqlab.engine.step import StepResult
    from seqlab.engine.trainer import Trainer


class Evaluator(Callback):
    """On an evaluation step: the task's metrics (under the run's precision), the best-so-far
    bookkeeping, and the metrics joined to the step's record. The Trainer logs that record,
    then fires `on_eval` (checkpoint first): a checkpoint never exists without its record."""

    def on_step_end(self, trainer: Trainer, result: StepResult) -> None:
        if not result.evaluate:
            return
        t, s = trainer.cfg.trainer, trainer.state
        with autocast(t.precision, trainer.device):
            metrics = trainer.task.evaluate(trainer.model, t.batch_size, t.eval_batches, trainer.device)
        s.last_eval = metrics
        trainer.eval_improved = s.best_val_loss is None or metrics["val_loss"] < s.best_val_loss
        if trainer.eval_improved:
            s.best_val_loss, s.best_val_bpc = metrics["val_loss"], metrics.get("val_bpc")
        if result.record is not None:
            result.record.update(metrics)
