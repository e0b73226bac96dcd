"""A study's files: its settings (study.json, written once) and its journal (trials.jsonl).

The journal is append-only, one JSON line per event, written by the one `seqlab search` that
holds the study's lock and read by anyone (a trial's pruner, a report): a `start` line when a
trial is handed its parameters and folder, a `finish` line when it ended (completed, pruned or
failed) with what it scored. Replaying the lines gives every trial's state; a trial with a
start and no finish was running when the study stopped.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from seqlab.errors import SeqlabError
from seqlab.runs.atomic import append_line, atomic_write_json
from seqlab.search import JOURNAL, STUDY_SETTINGS

COUNTED = ("complete", "pruned")
"""Finished states that count towards the study's number of trials (a failed trial does not)."""


@dataclass
class StudySettings:
    """What a study searches and how; a study is continued only with the same settings."""

    metric: str
    """The validation metric trials are scored on (their final value) and pruned by."""
    direction: str
    """`minimize` or `maximize`."""
    space: dict[str, str]
    """Config key -> its range in Optuna sweeper syntax, e.g. `tag(log, interval(1e-4, 1e-2))`."""
    overrides: list[str]
    """The overrides every trial gets besides its parameters."""
    pruner: str = "median"
    """`median` (Optuna's MedianPruner) or `none`."""
    startup_trials: int = 3
    """Completed trials before any trial is pruned."""
    warmup_steps: int = 0
    """Steps a trial trains before it may be pruned."""


@dataclass
class TrialRecord:
    """One trial as the journal tells it."""

    number: int
    params: dict[str, Any]
    folder: str
    """Its run folder's name inside the study folder."""
    state: str | None = None
    """None while running (or interrupted); `complete`, `pruned` or `failed` once finished."""
    value: float | None = None
    """Its final metric (complete and pruned trials)."""
    curve: dict[int, float] = field(default_factory=dict)
    """Step -> the metric at each evaluation."""
    steps: int | None = None
    max_steps: int | None = None
    flops: float | None = None
    """Training FLOPs spent (None when its family has no FLOP model)."""
    train_time_s: float | None = None
    reason: str | None = None
    """Why a failed trial failed."""


def load_settings(study: Path) -> StudySettings | None:
    """The study's settings, or None when the folder holds no study yet."""
    path = Path(study) / STUDY_SETTINGS
    if not path.exists():
        return None
    try:
        return StudySettings(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError) as err:
        raise SeqlabError(f"'{path}' is damaged ({err}); it says what the study searches: restore it, "
                          "or start the study in a new folder") from None


def save_settings(study: Path, settings: StudySettings) -> None:
    atomic_write_json(Path(study) / STUDY_SETTINGS, asdict(settings))


def differing_setting(old: StudySettings, new: StudySettings) -> str | None:
    """The first setting in which a re-run differs from the study it continues, or None."""
    before, now = asdict(old), asdict(new)
    return next((key for key in before if before[key] != now[key]), None)


class Journal:
    """The study's trials.jsonl: append events, replay them into trial records."""

    def __init__(self, study: Path) -> None:
        self.path = Path(study) / JOURNAL

    def start(self, number: int, params: dict[str, Any], folder: str) -> None:
        self._append({"event": "start", "number": number, "params": params, "folder": folder})

    def finish(self, record: TrialRecord) -> None:
        self._append({"event": "finish", **asdict(record)})

    def _append(self, event: dict[str, Any]) -> None:
        append_line(self.path, json.dumps(event))

    def trials(self) -> dict[int, TrialRecord]:
        """Every trial, by number, in the state its last event left it."""
        trials: dict[int, TrialRecord] = {}
        for event in self._events():
            number = event["number"]
            if event["event"] == "start":
                trials[number] = TrialRecord(number, event["params"], event["folder"])
            elif event["event"] == "finish":
                fields = {k: v for k, v in event.items() if k != "event"}
                fields["curve"] = {int(step): value for step, value in (fields.get("curve") or {}).items()}
                trials[number] = TrialRecord(**fields)
        return trials

    def _events(self) -> list[dict[str, Any]]:
        try:
            lines = self.path.read_text().splitlines()
        except FileNotFoundError:
            return []
        events = []
        for line in lines:
            try:
                events.append(json.loads(line))
            except ValueError:  # a line cut short by a crash mid-write: that event never happened
                continue
        return events
