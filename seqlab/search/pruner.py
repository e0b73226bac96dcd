"""The pruning decision a running trial asks for at each evaluation.

Optuna's MedianPruner, fed from the study folder: a fresh in-memory study holds the journal's
completed trials with their metric curves, the asking trial reports its own curve so far, and
the pruner answers. Stateless: a resumed trial asks with its whole curve again, and trials
that finished since the last evaluation count at the next one.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from seqlab.search.journal import Journal, StudySettings, load_settings


@contextmanager
def quiet_optuna() -> Iterator[Any]:
    """Optuna without its INFO lines and experimental-API warnings (add_trial, create_trial)."""
    import optuna

    optuna.logging.set_verbosity(logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        yield optuna


def make_pruner(settings: StudySettings) -> Any:
    """The Optuna pruner `settings` name."""
    import optuna

    if settings.pruner == "none":
        return optuna.pruners.NopPruner()
    return optuna.pruners.MedianPruner(n_startup_trials=settings.startup_trials,
                                       n_warmup_steps=settings.warmup_steps)


def metric_curve(records: Iterable[dict[str, Any]], metric: str) -> dict[int, float]:
    """Step -> `metric` at each evaluation, from metrics records (metrics.jsonl's lines)."""
    return {int(r["step"]): float(r[metric]) for r in records if isinstance(r.get(metric), int | float)}


def should_prune(study: Path, records: Iterable[dict[str, Any]]) -> bool:
    """Whether the study's pruner stops a trial whose metrics records so far are `records`."""
    settings = load_settings(study)
    if settings is None or settings.pruner == "none":
        return False
    curve = metric_curve(records, settings.metric)
    if not curve:
        return False
    with quiet_optuna() as optuna:
        history = optuna.create_study(direction=settings.direction, pruner=make_pruner(settings))
        for trial in Journal(study).trials().values():
            if trial.state == "complete" and trial.value is not None:
                history.add_trial(optuna.trial.create_trial(value=trial.value, intermediate_values=trial.curve))
        asking = history.ask()
        for step, value in sorted(curve.items()):
            asking.report(value, step)
        return asking.should_prune()
