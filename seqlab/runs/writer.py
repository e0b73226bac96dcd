"""The run folder: every file a run leaves, written in one place.

Only one process writes it (rank 0 under multi-process training, holding the folder's
lock: seqlab/runs/lock.py); the others get a RunDir with `enabled=False`, whose
writes do nothing. A write that fails (no space, file too large, I/O error, read-only
file system) raises RunWriteError naming the file; plots and samples only warn.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from seqlab.data.saved import reading
from seqlab.errors import RunWriteError
from seqlab.runs import (
    CHECKPOINTS,
    CONFIG,
    FLOPS,
    LOSS_PLOT,
    METRICS,
    SAMPLES,
    SUMMARY,
    sample_block_header,
)
from seqlab.runs.atomic import append_line, atomic_write_json, atomic_write_text


@contextmanager
def writing(what: str, path: Path) -> Iterator[None]:
    """Turn an OSError raised while writing `path` into a RunWriteError naming it."""
    try:
        yield
    except OSError as err:
        raise RunWriteError(f"could not write {what} '{path}': {err.strerror or err}") from err


class RunDir:
    """Paths and writers for config.yaml, metrics.jsonl, loss.png, samples.txt,
    checkpoint/ and summary.json."""

    def __init__(self, path: Path, enabled: bool = True) -> None:
        self.path = Path(path)
        self.enabled = enabled
        if enabled:
            with writing("the run folder", self.path):
                self.path.mkdir(parents=True, exist_ok=True)

    config = property(lambda self: self.path / CONFIG)
    metrics = property(lambda self: self.path / METRICS)
    loss_plot = property(lambda self: self.path / LOSS_PLOT)
    samples = property(lambda self: self.path / SAMPLES)
    checkpoints = property(lambda self: self.path / CHECKPOINTS)
    summary = property(lambda self: self.path / SUMMARY)
    flops = property(lambda self: self.path / FLOPS)

    def write_config(self, yaml_text: str) -> None:
        if self.enabled:
            with writing("the config", self.config):
                atomic_write_text(self.config, yaml_text)

    def write_flops(self, info: dict[str, Any]) -> None:
        if self.enabled:
            with writing("the FLOP budget", self.flops):
                atomic_write_json(self.flops, info)

    def log(self, record: dict[str, Any]) -> None:
        """Append one JSON object to metrics.jsonl (unbuffered: readable while running)."""
        if self.enabled:
            with writing("metrics", self.metrics):
                append_line(self.metrics, json.dumps(record))

    def rewrite_metrics(self, records: list[dict[str, Any]]) -> None:
        """Replace metrics.jsonl with `records` (a resume drops the steps it will redo)."""
        if self.enabled:
            with writing("metrics", self.metrics):
                atomic_write_text(self.metrics, "".join(json.dumps(r) + "\n" for r in records))

    def add_samples(self, step: int, prompt: str | None, samples: list[str]) -> None:
        if not self.enabled:
            return
        try:
            with open(self.samples, "a", encoding="utf-8") as f:
                f.write(sample_block_header(step, prompt))
                for i, text in enumerate(samples, 1):
                    f.write(f"--- sample {i} ---\n{text}\n")
                f.write("\n")
        except OSError as err:  # a lost sample never costs the run
            warnings.warn(f"could not write {self.samples}: {err}", stacklevel=2)

    def plot_losses(self, records: list[dict[str, Any]]) -> None:
        if not self.enabled:
            return
        try:
            from seqlab.plots.loss import plot_loss_curves

            plot_loss_curves(records, self.loss_plot, title=self.path.name)
        except Exception as err:  # a plot is never worth a crash
            warnings.warn(f"could not draw {self.loss_plot}: {err}", stacklevel=2)

    def write_summary(self, summary: dict[str, Any]) -> None:
        if self.enabled:
            with writing("the summary", self.summary):
                atomic_write_json(self.summary, summary)

    @contextmanager
    def failing_writes(self, summary: Callable[[], dict[str, Any]]) -> Iterator[None]:
        """Around a run's training: a RunWriteError marks summary.json `failed` with the reason
        (if it can still be written) before it goes on to stop the run."""
        try:
            yield
        except RunWriteError as err:
            if self.enabled:
                try:
                    atomic_write_json(self.summary, {**summary(), "status": "failed", "error": str(err)})
                except OSError:  # the disk that failed the run may refuse this one too
                    pass
            raise

    def read_metrics(self) -> list[dict[str, Any]]:
        """Every parseable record of metrics.jsonl (a torn last line, or one without a step, is skipped)."""
        records = []
        if self.metrics.exists():
            with reading(self.metrics, "move it aside to resume without the earlier records"):
                text = self.metrics.read_text(encoding="utf-8", errors="replace")
            for line in text.splitlines():
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if isinstance(record, dict) and isinstance(record.get("step"), int):
                    records.append(record)
        return records
