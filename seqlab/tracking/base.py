"""The callback interface trackers implement, and the guard that keeps a tracker harmless.

`Callback` stands in for seqlab/engine/callbacks/base.py of the callback engine (same
four hooks, same `rank_zero_only`); when that lands, `Tracker` subclasses it instead.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, ClassVar

TRACKING_EXTRA = "pip install 'seqlab[tracking]'"


class Callback:
    """Hooks the training loop calls; every hook does nothing unless overridden."""

    rank_zero_only: ClassVar[bool] = True
    """Runs only on rank 0 under multi-process training."""

    def on_fit_start(self, trainer: Any) -> None:
        """After resume and model build, before step 1."""

    def on_log(self, trainer: Any, record: dict[str, Any]) -> None:
        """Each record appended to metrics.jsonl."""

    def on_eval(self, trainer: Any, metrics: dict[str, float]) -> None:
        """After each evaluation (samples.txt already holds its samples)."""

    def on_fit_end(self, trainer: Any, summary: dict[str, Any]) -> None:
        """After summary.json (and the final loss.png) is written."""


class Tracker(Callback):
    """A callback that mirrors the run into one tracking tool and can never hurt the run.

    Subclasses implement start / log / evaluated / finish. The first exception any of them
    raises (server down, disk full, package missing) turns this tracker off for the rest of
    the run with one warning line on stderr; training never sees it.
    """

    name: ClassVar[str]
    """The logger's name in conf/logger/ (`logger=[NAME]`)."""
    package: ClassVar[str]
    """The Python package it needs, named in the warning when it is missing."""

    def __init__(self, cfg: Any) -> None:
        self.cfg = cfg
        self.failed = False

    def start(self, trainer: Any) -> None:
        raise NotImplementedError

    def log(self, trainer: Any, record: dict[str, Any]) -> None:
        raise NotImplementedError

    def evaluated(self, trainer: Any, metrics: dict[str, float]) -> None:
        """Optional: most trackers get the validation metrics through the record."""

    def finish(self, trainer: Any, summary: dict[str, Any]) -> None:
        raise NotImplementedError

    def on_fit_start(self, trainer: Any) -> None:
        self._guard(self.start, trainer)

    def on_log(self, trainer: Any, record: dict[str, Any]) -> None:
        self._guard(self.log, trainer, record)

    def on_eval(self, trainer: Any, metrics: dict[str, float]) -> None:
        self._guard(self.evaluated, trainer, metrics)

    def on_fit_end(self, trainer: Any, summary: dict[str, Any]) -> None:
        self._guard(self.finish, trainer, summary)

    def _guard(self, hook: Callable[..., None], *args: Any) -> None:
        if self.failed:
            return
        try:
            hook(*args)
        except ImportError as err:
            if err.name is None or err.name.split(".")[0] == self.package:  # torch's tensorboard check has no name
                self.off(f"the {self.package} package is not installed ({TRACKING_EXTRA})")
            else:  # the package is there but something it needs is not
                self.off(f"{self.package} cannot be imported: {err}")
        except Exception as err:  # noqa: BLE001 - whatever a tracker raises, training goes on
            self.off(" ".join(str(err).split())[:300] or type(err).__name__)

    def off(self, reason: str) -> None:
        """Turn this tracker off with one warning line; the run folder is unaffected."""
        self.failed = True
        sys.stderr.write(f"warning: logger {self.name} is off for this run: {reason}\n")
        sys.stderr.flush()
        self.close()

    def close(self) -> None:
        """Release what the tracker holds after a failure (best effort, never raises)."""
