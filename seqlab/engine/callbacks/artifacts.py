"""What a run leaves for a reader at each evaluation: samples.txt, the task's own pictures and
loss.png. None of them is ever worth the run (a failure is a warning)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from seqlab.engine.callbacks import Callback
from seqlab.sampling import sample_texts

if TYPE_CHECKING:
    from seqlab.engine.trainer import Trainer


class SampleWriter(Callback):
    """The task's own examples (synthetic tasks), or free text sampled from the prompt."""

    rank_zero_only = True
    critical = False

    def on_eval(self, trainer: Trainer, metrics: dict[str, float]) -> None:
        t = trainer.cfg.trainer
        if t.num_samples <= 0:
            return
        lines = trainer.task.examples(trainer.model, t.num_samples, trainer.device)
        prompt = None
        if lines is None:
            prompt = t.sample_prompt
            lines = sample_texts(trainer.model, trainer.task.vocab, prompt, t.num_samples, t.sample_tokens,
                                 t.sample_temperature, seed=trainer.cfg.seed + trainer.state.step,
                                 device=trainer.device)
        trainer.run.add_samples(trainer.state.step, prompt, lines)


class TaskArtifacts(Callback):
    """Whatever pictures the task draws into the run folder (e.g. alignment.png)."""

    rank_zero_only = True
    critical = False

    def on_eval(self, trainer: Trainer, metrics: dict[str, float]) -> None:
        trainer.task.write_artifacts(trainer.model, trainer.run.path, trainer.device)


class LossPlot(Callback):
    """loss.png, redrawn at an evaluation when `every_s` seconds have passed since the run started
    or was last drawn, and at the end when records came after it: a picture costs ~0.3 s, worth
    it for a reader refreshing the file, not for a run of seconds evaluated every few steps."""

    rank_zero_only = True
    critical = False

    def __init__(self, every_s: float = 10.0) -> None:
        self.drawn = -1  # how many records the last drawing showed
        self.every_s, self.last = every_s, time.monotonic()

    def on_fit_start(self, trainer: Trainer) -> None:
        self.last = time.monotonic()

    def on_eval(self, trainer: Trainer, metrics: dict[str, float]) -> None:
        if time.monotonic() - self.last >= self.every_s:
            self._draw(trainer)  # the step's record, with its metrics, is in already

    def on_fit_end(self, trainer: Trainer, summary: dict[str, Any]) -> None:
        if len(trainer.records) != self.drawn:
            self._draw(trainer)

    def _draw(self, trainer: Trainer) -> None:
        trainer.run.plot_losses(trainer.records)
        self.drawn, self.last = len(trainer.records), time.monotonic()
