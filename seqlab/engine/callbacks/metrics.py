"""The metrics record of a log step, and metrics.jsonl."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from seqlab.engine.callbacks.base import Callback

if TYPE_CHECKING:
    from seqlab.engine.step import StepResult
    from seqlab.engine.trainer import Trainer


class TrainMetrics(Callback):
    """On a log step, starts the record: mean training loss since the last record (the one
    host-device sync of the loss), gradient norm, learning rate, tokens and throughput."""

    def on_step_end(self, trainer: Trainer, result: StepResult) -> None:
        if not result.log:
            return
        s = trainer.state
        result.record = {
            "step": s.step, "tokens": s.tokens, "wall_s": round(s.wall_s, 3),
            "lr": trainer.optimizer.param_groups[0]["lr"], "train_loss": trainer.take_train_loss(),
            "grad_norm": float(result.grad_norm), "tokens_per_s": s.tokens / max(s.train_time_s, 1e-9),
        }


class MetricsFile(Callback):
    """Appends each record to metrics.jsonl (flushed: readable while the run goes on)."""

    rank_zero_only = True

    def on_log(self, trainer: Trainer, record: dict[str, Any]) -> None:
        trainer.run.log(record)
