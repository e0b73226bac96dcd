"""Trackers are engine callbacks (seqlab/engine/callbacks/__init__.py), rank 0 only, with a guard
that keeps a tracker harmless: the run folder stays the source of truth."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from seqlab.engine.callbacks import Callback
from seqlab.errors import warn

TRACKING_EXTRA = "pip install 'seqlab[tracking]'"


class Tracker(Callback):
    """A callback that mirrors the run into one tracking tool and can never hurt the run.

    Subclasses implement start / log / evaluated / finish. The first exception any of them
    raises (server down, disk full, package missing) turns this tracker off for the rest of
    the run with one warning line on stderr; training never sees it.
    """

    rank_zero_only = True
    critical = False  # its own guard turns it off first; the engine never ends a run for it
    name: ClassVar[str]
    """The logger's name in conf/logger/ (`logger=[NAME]`)."""
    package: ClassVar[str]
    """The Python package it needs, named in the warning when it is missing."""
    loggers: ClassVar[tuple[str, ...]] = ()
    """The loggers its package writes to the console on its own (kept to train.log instead)."""

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
        keep_off_console(self.loggers)  # its package is imported by now (and has set up its loggers)

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
        warn(f"logger {self.name} is off for this run: {reason}")
        self.close()

    def close(self) -> None:
        """Release what the tracker holds after a failure (best effort, never raises)."""


def keep_off_console(names: Iterable[str]) -> None:
    """Libraries that log to the terminal on their own (MLflow's background uploads print an
    ERROR line per failed batch): their loggers write to the run's train.log instead (the root
    logger's file handlers), or nowhere when there is none. A tracker's failure reaches the
    console once, as the warning of `Tracker.off`."""
    files = [h for h in logging.getLogger().handlers if isinstance(h, logging.FileHandler)]
    for name in names:
        logger = logging.getLogger(name)
        logger.handlers = list(files) or [logging.NullHandler()]
        logger.propagate = False
