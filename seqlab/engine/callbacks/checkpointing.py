"""When checkpoints are written: at every evaluation (best pointer when it improved), every
`trainer.checkpoint_every` steps, and when a signal stops the run between evaluations.

A step's checkpoint comes after its metrics record is in metrics.jsonl (on_eval and on_log
fire after the record is written): a resume keeps the records up to its checkpoint, so a
failed append can never leave a checkpoint whose record is missing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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
        if not result.log and self._periodic(trainer, result.step):  # a step without a record
            trainer.save_checkpoint(best=False)

    def on_log(self, trainer: Trainer, record: dict[str, Any]) -> None:
        t = trainer.cfg.trainer
        evaluated = record["step"] % t.eval_every == 0 or record["step"] == t.max_steps
        if not evaluated and self._periodic(trainer, record["step"]):  # evaluations save in on_eval
            trainer.save_checkpoint(best=False)

    @staticmethod
    def _periodic(trainer: Trainer, step: int) -> bool:
        every = trainer.cfg.trainer.checkpoint_every
        return bool(every) and step % every == 0

    def on_train_end(self, trainer: Trainer, status: str) -> None:
        if status == "interrupted" and trainer.state.step % trainer.cfg.trainer.eval_every:
            trainer.save_checkpoint(best=False)
