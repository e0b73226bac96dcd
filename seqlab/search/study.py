"""A study: its folder, settings and journal, the next trial's parameters, a trial's command
line, and what a finished trial's run folder says it scored.

Everything is read from the study folder: a new trial's parameters come from a TPE sampler
fitted to the journal's finished trials at that moment (seeded by the number of trials started,
so a continued study never replays the parameters of its first run).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seqlab.data.saved import json_or_none
from seqlab.runs import CHECKPOINTS, CONFIG, LAST, METRICS, SUMMARY
from seqlab.search.journal import COUNTED, Journal, StudySettings, TrialRecord
from seqlab.search.objective import final_value, objective_value
from seqlab.search.pruner import metric_curve, quiet_optuna
from seqlab.search.space import SearchSpace, trial_overrides

SETTLED = ("completed", "pruned")
"""A trial whose run folder ended so has nothing left to train."""
RESAMPLES = 20
"""Draws tried for a parameter set no trial has had yet (a small discrete space may have none left)."""


@dataclass
class Study:
    """One study folder, opened by the `seqlab search` that holds its lock."""

    folder: Path
    settings: StudySettings
    space: SearchSpace
    names: dict[str, str]
    """The base config's model and task choices (a trial's folder is named after them)."""
    seed: int

    def __post_init__(self) -> None:
        self.journal = Journal(self.folder)
        self.distributions = self.space.distributions()

    def trials(self) -> dict[int, TrialRecord]:
        return self.journal.trials()

    def new_trial(self) -> TrialRecord:
        """The next trial: its number, parameters and folder, in the journal before it starts."""
        trials = self.trials()
        number = max(trials, default=-1) + 1
        params = self._sample(trials)
        model = params.get("model", self.names["model"])
        task = params.get("task", self.names["task"])
        record = TrialRecord(number, params, f"{number}_{model}_{task}")
        self.journal.start(number, params, record.folder)
        return record

    def _sample(self, trials: dict[int, TrialRecord]) -> dict[str, Any]:
        """Parameters from TPE fitted to the finished trials; one no trial had, when one is found."""
        with quiet_optuna() as optuna:
            from optuna.trial import TrialState, create_trial

            sampler = optuna.samplers.TPESampler(seed=self.seed + len(trials))
            history = optuna.create_study(direction=self.settings.direction, sampler=sampler)
            for t in trials.values():
                if t.state in COUNTED:
                    complete = t.state == "complete"
                    history.add_trial(create_trial(
                        params=t.params, distributions=self.distributions, value=t.value if complete else None,
                        state=TrialState.COMPLETE if complete else TrialState.PRUNED, intermediate_values=t.curve))
            seen = [t.params for t in trials.values()]
            for _ in range(RESAMPLES):
                drawn = history.ask(self.distributions)
                if drawn.params not in seen:
                    break
                history.tell(drawn, state=TrialState.FAIL)
            return dict(drawn.params)

    def run_folder(self, trial: TrialRecord) -> Path:
        return self.folder / trial.folder

    def command(self, trial: TrialRecord) -> list[str]:
        """The `seqlab` arguments of one trial, a `train`: one torch thread (unless the overrides say
        otherwise), the trial's parameters, its own folder continued from its checkpoint, the
        study's pruning."""
        from seqlab.config.compose import quote

        return ["train", "threads=1", *self.space.fixed,
                *trial_overrides(trial.params), f"hydra.run.dir={quote(str(self.run_folder(trial)))}",
                "trainer.resume=auto", f"+study={quote(str(self.folder.resolve()))}"]

    def settled(self, trial: TrialRecord) -> bool:
        """Whether an unfinished trial's run folder already ended (completed or pruned) at its last
        checkpoint: the study stopped after the run, before the journal heard of it."""
        folder = self.run_folder(trial)
        summary = json_or_none(folder / SUMMARY) or {}
        last = json_or_none(folder / CHECKPOINTS / LAST) or {}
        return summary.get("status") in SETTLED and summary.get("steps") == last.get("step")

    def finish(self, trial: TrialRecord, failure: str | None) -> TrialRecord:
        """The finished trial as its run folder tells it (`failure`: why its process failed), in
        the journal. A completed run without the study's metric ends the study (one line)."""
        folder = self.run_folder(trial)
        summary = json_or_none(folder / SUMMARY) or {}
        config = _read_config(folder)
        done = TrialRecord(trial.number, trial.params, trial.folder,
                           curve=metric_curve(_read_records(folder), self.settings.metric),
                           steps=summary.get("steps"), max_steps=(config.get("trainer") or {}).get("max_steps"),
                           flops=summary.get("flops"), train_time_s=summary.get("train_time_s"))
        status = summary.get("status")
        if failure is None and status == "completed":
            done.state, done.value = "complete", objective_value(folder, self.settings.metric)
        elif failure is None and status == "pruned":
            done.state, done.value = "pruned", final_value(summary, self.settings.metric)
        else:
            done.state = "failed"
            done.reason = failure or f"the run ended {status or 'without a summary'}"
        self.journal.finish(done)
        return done


def _read_config(folder: Path) -> dict[str, Any]:
    import yaml

    try:
        return yaml.safe_load((folder / CONFIG).read_text()) or {}
    except (OSError, yaml.YAMLError):
        return {}


def _read_records(folder: Path) -> list[dict[str, Any]]:
    records = []
    try:
        lines = (folder / METRICS).read_text().splitlines()
    except OSError:
        return []
    for line in lines:
        try:
            records.append(json.loads(line))
        except ValueError:  # a torn last line
            continue
    return records

