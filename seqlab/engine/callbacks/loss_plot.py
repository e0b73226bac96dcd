"""loss.png, redrawn at each evaluation and once at the end."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from seqlab.engine.callbacks.base import Callback

if TYPE_CHECKING:
    from seqlab.engine.trainer import Trainer


class LossPlot(Callback):
    rank_zero_only = True
    critical = False

    def on_eval(self, trainer: Trainer, metrics: dict[str, float]) -> None:
        trainer.run.plot_losses(trainer.records)  # the step's record, with its metrics, is in already

    def on_fit_end(self, trainer: Trainer, summary: dict[str, Any]) -> None:
        trainer.run.plot_losses(trainer.records)
