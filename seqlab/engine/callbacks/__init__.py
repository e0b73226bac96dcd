"""What observes a training run: the callbacks, and the default list the Trainer calls.

The core of a run (the step, its metrics record, evaluation, metrics.jsonl, checkpoints) is
the Trainer's own loop, in that order, in its code (seqlab/engine/trainer.py). Callbacks are
what watches it: the progress line (progress.py), samples and pictures (artifacts.py), the
trackers (seqlab/tracking/). The hooks, called in list order:

    on_fit_start(trainer)            model built, resumed, config written; before step 1
    on_step_end(trainer, result)     after every optimiser step (result: StepResult)
    on_log(trainer, record)          each record, once it is in metrics.jsonl
    on_eval(trainer, metrics)        after each evaluation, once its checkpoint is written
    on_train_end(trainer, status)    the loop ended: completed, interrupted, diverged or pruned
    on_summary(trainer, summary)     add keys to summary.json before it is written
    on_fit_end(trainer, summary)     after summary.json is written
    teardown(trainer)                always, last (also when the run fails)

A run's config may ask for more (`config_callbacks`): a search trial's pruning (pruning.py).
`rank_zero_only` callbacks exist only in the process that writes the run folder;
`critical = False` marks a callback whose failure is a warning, never the run's end
(samples, pictures, trackers): the run folder stays the source of truth.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from seqlab.engine.step import StepResult
    from seqlab.engine.trainer import Trainer


class Callback:
    """No-op hooks; a callback overrides the ones it needs."""

    rank_zero_only: ClassVar[bool] = False
    """Runs only on the rank that writes the run folder."""
    critical: ClassVar[bool] = True
    """An exception in a hook ends the run; False: it is a warning."""

    def on_fit_start(self, trainer: Trainer) -> None: ...

    def on_step_end(self, trainer: Trainer, result: StepResult) -> None: ...

    def on_log(self, trainer: Trainer, record: dict[str, Any]) -> None: ...

    def on_eval(self, trainer: Trainer, metrics: dict[str, float]) -> None: ...

    def on_train_end(self, trainer: Trainer, status: str) -> None: ...

    def on_summary(self, trainer: Trainer, summary: dict[str, Any]) -> None: ...

    def on_fit_end(self, trainer: Trainer, summary: dict[str, Any]) -> None: ...

    def teardown(self, trainer: Trainer) -> None: ...


class CallbackList:
    """Callbacks in order; `fire` calls one hook on each, turning a non-critical failure
    into one warning line."""

    def __init__(self, callbacks: Iterable[Callback], is_main: bool = True) -> None:
        self.callbacks = [c for c in callbacks if is_main or not c.rank_zero_only]

    def fire(self, hook: str, *args: Any) -> None:
        for callback in self.callbacks:
            try:
                getattr(callback, hook)(*args)
            except Exception as err:
                if callback.critical:
                    raise
                step = args[0].state.step if args else "?"
                warnings.warn(f"step {step}: {type(callback).__name__}.{hook} failed: {err}", stacklevel=2)

    def close(self, trainer: Trainer) -> None:
        """Every callback's `teardown`, even if one fails (then the first critical error is raised)."""
        first: BaseException | None = None
        for callback in self.callbacks:
            try:
                callback.teardown(trainer)
            except Exception as err:
                if callback.critical:
                    first = first or err
                else:
                    warnings.warn(f"{type(callback).__name__}.teardown failed: {err}", stacklevel=2)
        if first is not None:
            raise first


def default_callbacks() -> list[Callback]:
    """Every run's observers, in the order they are called (trackers, which the launcher
    builds from the config, come after them)."""
    from seqlab.engine.callbacks.artifacts import LossPlot, SampleWriter, TaskArtifacts
    from seqlab.engine.callbacks.progress import ProgressDisplay

    return [SampleWriter(), TaskArtifacts(), LossPlot(), ProgressDisplay()]


def config_callbacks(cfg: Any) -> list[Callback]:
    """What the run's config asks for beyond the default observers: a search trial (`study: DIR`,
    set by `seqlab search`) gets its study's pruning; an ordinary run nothing."""
    study = cfg.get("study")
    if not study:
        return []
    from seqlab.engine.callbacks.pruning import TrialPruning

    return [TrialPruning(Path(study))]
