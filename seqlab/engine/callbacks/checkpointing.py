"""When checkpoints are written: at every evaluation (best pointer when it improved), every
`trainer.checkpoint_every` steps, and when a signal stops the run between evaluations."""

from __future__ import annotations

from typing import TYPE_CHECKING

from seqlab.engine.callbacks.base import Callback

if TYPE_CHECKING:
    from seqlab.engine.step import StepResult
    from seqlab.engine.trainer import Trainer


class Checkpointer(Callback):
    """Listed before samples and pictures: nothing they do can cost the checkpoint. It runs on
    every rank (each hands its RNG streams to rank 0, which writes)."""

    def on_eval(self, trainer: Trainer, metrics: dict[str, float]) -> None:
        trainer.save_checkpoint(best=trainer.eval_improved, metrics=metrics)

    def on_step_end(self, trainer: Trainer, result: StepResult) -> None:
        every = trainer.cfg.trainer.checkpoint_every
        if every and not result.evaluate and result.step % every == 0:
            trainer.save_checkpoint(best=False)

    def on_train_end(self, trainer: Trainer, status: str) -> None:
        if status == "interrupted" and trainer.state.step % trainer.cfg.trainer.eval_every:
            trainer.save_checkpoint(best=False)
