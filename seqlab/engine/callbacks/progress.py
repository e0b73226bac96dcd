"""The run's console: the live progress line (rich), the run's first line and its last.

The line must fit an 80-column terminal whole: the counter and the ETA never shrink (they are
what a glance looks for), the bar takes what is left, and on a narrow terminal the stats
switch to a compact form ("131.5k tok/s") instead of being cut.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Column
from rich.text import Text

from seqlab.engine.callbacks import Callback

if TYPE_CHECKING:
    from seqlab.engine.trainer import Trainer

WIDE = 100  # terminals at least this wide get the long form of the stats


class TrainProgress:
    """step / max, train loss, last val loss, tokens/s, MFU and ETA; silent when disabled."""

    def __init__(self, total: int, enabled: bool = True, console: Console | None = None) -> None:
        self.enabled = enabled
        counter = len(f"{total}/{total}")
        self._progress = Progress(
            TextColumn("[bold]train"),
            BarColumn(bar_width=None, table_column=Column(ratio=1, min_width=8)),
            MofNCompleteColumn(table_column=Column(no_wrap=True, min_width=counter)),
            TextColumn("{task.fields[stats]}", table_column=Column(no_wrap=True, overflow="ellipsis")),
            TimeRemainingColumn(table_column=Column(no_wrap=True, min_width=7)),
            console=console or Console(stderr=True), transient=False,
        )
        self._task = self._progress.add_task("train", total=total, stats="")

    def start(self) -> None:
        if self.enabled:
            self._progress.start()
            self._running = True

    def stop(self) -> None:
        if self.enabled and self._running:
            self._progress.stop()
            self._running = False

    _running = False

    def __enter__(self) -> TrainProgress:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def update(self, step: int, train_loss: float | None, val_loss: float | None,
               tokens_per_s: float, mfu: float | None = None) -> None:
        if not self.enabled:
            return
        compact = self._progress.console.width < WIDE
        stats = format_stats(train_loss, val_loss, tokens_per_s, mfu, compact)
        self._progress.update(self._task, completed=step, stats=stats)

    def print(self, message: str) -> None:
        if self.enabled:
            self._progress.console.print(message)


def format_stats(train_loss: float | None, val_loss: float | None, tokens_per_s: float,
                 mfu: float | None, compact: bool = False) -> str:
    """'loss 1.2345 | val 1.3456 | 131,521 tok/s | MFU 35.7%', or without the bars and with
    k-units when compact (at most 45 characters)."""
    parts = []
    if train_loss is not None:
        parts.append(f"loss {train_loss:.4f}")
    if val_loss is not None:
        parts.append(f"val {val_loss:.4f}")
    speed = f"{tokens_per_s / 1000:.1f}k" if compact and tokens_per_s >= 10_000 else f"{tokens_per_s:,.0f}"
    parts.append(f"{speed} tok/s")
    if mfu is not None:
        parts.append(f"MFU {100 * mfu:.1f}%")
    return (" " if compact else " | ").join(parts)


class ProgressDisplay(Callback):
    rank_zero_only = True
    critical = False

    def on_fit_start(self, trainer: Trainer) -> None:
        s, cfg = trainer.state, trainer.cfg
        resumed = f", resumed at step {s.step}" if s.step else ""
        trainer.progress.start()
        trainer.print(f"[bold]{cfg.model.name}[/] on [bold]{cfg.task.name}[/]: {trainer.params:,} parameters, "
                      f"device {trainer.device}{resumed}, run folder {trainer.run.path}")

    def on_log(self, trainer: Trainer, record: dict[str, Any]) -> None:
        last_eval = trainer.state.last_eval or {}
        trainer.progress.update(trainer.state.step, record["train_loss"], last_eval.get("val_loss"),
                                record["tokens_per_s"], record.get("mfu"))

    def on_train_end(self, trainer: Trainer, status: str) -> None:
        trainer.progress.stop()  # the bar's last state first, then the run's last lines

    def on_fit_end(self, trainer: Trainer, summary: dict[str, Any]) -> None:
        line = final_line(summary, trainer.task.headline, str(trainer.run.path))
        trainer.print(line)
        logging.getLogger("seqlab").info(Text.from_markup(line).plain)  # train.log keeps the outcome too
        status, step = summary["status"], summary["steps"]
        if status == "diverged":
            trainer.print(f"[red]diverged at step {step}: the last good checkpoint is in {trainer.run.checkpoints}")
        if status == "interrupted":
            trainer.print(f"stopped at step {step}; continue with: seqlab resume {trainer.run.path}")

    def teardown(self, trainer: Trainer) -> None:
        trainer.progress.stop()


HEADLINES = {"val_seq_acc": "exact", "val_acc": "accuracy"}


def final_line(summary: dict[str, Any], headline: str, path: str) -> str:
    """completed: 2000 steps, val loss 1.3540 (1.953 bpc)[, exact 99.8%], 31,800 tok/s, 44.0 s -> PATH"""
    val, bpc = summary["final_val_loss"], summary["final_val_bpc"]
    val_text = "n/a" if val is None else f"{val:.4f}" + ("" if bpc is None else f" ({bpc:.3f} bpc)")
    score = summary.get(f"final_{headline}") if headline != "val_loss" else None
    extra = f", {HEADLINES.get(headline, headline)} {score:.1%}" if isinstance(score, float) else ""
    return (f"[bold]{summary['status']}[/]: {summary['steps']} steps, val loss {val_text}{extra}, "
            f"{summary['tokens_per_s']:,.0f} tok/s, {summary['wall_s']:.1f} s -> {path}")
