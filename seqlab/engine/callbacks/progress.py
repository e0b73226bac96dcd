"""The run's console: the live progress line (rich), the run's first line and its last.

The line must fit an 80-column terminal whole: the counter and the ETA never shrink (they are
what a glance looks for), the bar takes what is left, and on a narrow terminal the stats
switch to a compact form ("131.5k tok/s") instead of being cut.

When stderr is no terminal (`seqlab train ... > log 2>&1`, a batch job) there is no live line:
each log step prints one plain line instead, `step 200/2000 | loss 1.5234 | val 1.6012 |
48,120 tok/s | MFU 3.1% | eta 0:21`; train.log gets that line at every log step either way.
A line that holds a path (the run folder, the resume command) is never broken by rich: a
terminal may wrap it on screen, but it copies whole.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Column
from rich.text import Text

from seqlab.engine.callbacks import Callback
from seqlab.runs import TRAIN_LOG

if TYPE_CHECKING:
    from seqlab.engine.trainer import Trainer

WIDE = 100  # terminals at least this wide get the long form of the stats


class TrainProgress:
    """step / max, train loss, last val loss, tokens/s, MFU and ETA; silent when disabled.

    On a terminal (or in Jupyter) a live rich line; elsewhere (`plain`) none: the log steps'
    plain lines (`plain_line`) stand for it."""

    def __init__(self, total: int, enabled: bool = True, console: Console | None = None) -> None:
        self.enabled, self.total = enabled, total
        console = console or Console(stderr=True)
        self.plain = not (console.is_terminal or console.is_jupyter)
        self._started_at, self._first_step = time.perf_counter(), 0
        counter = len(f"{total}/{total}")
        self._progress = Progress(
            TextColumn("[bold]train"),
            BarColumn(bar_width=None, table_column=Column(ratio=1, min_width=8)),
            MofNCompleteColumn(table_column=Column(no_wrap=True, min_width=counter)),
            TextColumn("{task.fields[stats]}", table_column=Column(no_wrap=True, overflow="ellipsis")),
            TimeRemainingColumn(table_column=Column(no_wrap=True, min_width=7)),
            console=console, transient=False,
        )
        self._task = self._progress.add_task("train", total=total, stats="")

    def start(self, step: int = 0) -> None:
        """Start the clock of the ETA at `step` (a resumed run's first step) and the live line."""
        self._started_at, self._first_step = time.perf_counter(), step
        if self.enabled and not self.plain:
            self._progress.update(self._task, completed=step)
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
        """One line (rich markup) above the live line; never broken into two by rich."""
        if self.enabled:
            self._progress.console.print(message, soft_wrap=True)

    def eta(self, step: int) -> str:
        """Time left at this run's pace so far (evaluations included): 0:21, or 1:02:03."""
        done = step - self._first_step
        if done <= 0:
            return "?"
        left = round((time.perf_counter() - self._started_at) / done * max(self.total - step, 0))
        hours, rest = divmod(left, 3600)
        return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"

    def plain_line(self, step: int, train_loss: float | None, val_loss: float | None,
                   tokens_per_s: float, mfu: float | None = None) -> str:
        """'step 200/2000 | loss 1.5234 | val 1.6012 | 48,120 tok/s | MFU 3.1% | eta 0:21'"""
        stats = format_stats(train_loss, val_loss, tokens_per_s, mfu)
        return f"step {step}/{self.total} | {stats} | eta {self.eta(step)}"


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

    _handler: logging.Handler | None = None

    def on_fit_start(self, trainer: Trainer) -> None:
        log = logging.getLogger("seqlab")
        if not log.hasHandlers():  # a spawned rank 0 has no job logging: train.log gets its lines anyway
            self._handler = logging.FileHandler(trainer.run.path / TRAIN_LOG, encoding="utf-8")
            self._handler.setFormatter(logging.Formatter("[%(asctime)s][%(levelname)s] %(message)s"))
            self._level = log.level
            log.addHandler(self._handler)
            log.setLevel(logging.INFO)
        s, cfg = trainer.state, trainer.cfg
        resumed = f", resumed at step {s.step}" if s.step else ""
        world = trainer.dist.world_size
        ranks = f" × {world} processes" if world > 1 else ""
        trainer.progress.start(s.step)
        trainer.print(f"[bold]{cfg.model.name}[/] on [bold]{cfg.task.name}[/]: {trainer.params:,} parameters, "
                      f"device {trainer.device}{ranks}{resumed}, run folder {trainer.run.path}")

    def on_log(self, trainer: Trainer, record: dict[str, Any]) -> None:
        last_eval = trainer.state.last_eval or {}
        progress, step = trainer.progress, trainer.state.step
        numbers = (record["train_loss"], last_eval.get("val_loss"), record["tokens_per_s"], record.get("mfu"))
        line = progress.plain_line(step, *numbers)
        logging.getLogger("seqlab").info(line)  # train.log, terminal or not
        if progress.plain:
            trainer.print(line)
        else:
            progress.update(step, *numbers)

    def on_train_end(self, trainer: Trainer, status: str) -> None:
        trainer.progress.stop()  # the bar's last state first, then the run's last lines

    def on_fit_end(self, trainer: Trainer, summary: dict[str, Any]) -> None:
        """The outcome, then what to do next; on the console and in train.log."""
        lines = [final_line(summary, trainer.task.headline, str(trainer.run.path))]
        status, step = summary["status"], summary["steps"]
        if summary.get("stop_reason") == "early_stop":
            lines.append(f"stopped early at step {step}: val loss did not improve in "
                         f"{trainer.tcfg.early_stop_patience} evaluation(s) in a row "
                         f"(best {summary['best_val_loss']:.4f}, kept as checkpoint/best.json)")
        if status == "pruned":
            lines.append(f"pruned at step {step} of {trainer.tcfg.max_steps}: the study's pruner stopped this trial")
        if status == "diverged":
            lines.append(f"[red]diverged at step {step}: the last good checkpoint is in {trainer.run.checkpoints}")
        if status == "interrupted":
            lines.append(f"stopped at step {step}; continue with: seqlab resume {trainer.run.path}" if step else
                         "stopped before its first step: there is nothing to resume; train it again")
        for line in lines:
            trainer.print(line)
            logging.getLogger("seqlab").info(Text.from_markup(line).plain)  # train.log keeps the outcome too

    def teardown(self, trainer: Trainer) -> None:
        trainer.progress.stop()
        if self._handler is not None:
            log = logging.getLogger("seqlab")
            log.removeHandler(self._handler)
            log.setLevel(self._level)
            self._handler.close()
            self._handler = None


HEADLINES = {"val_seq_acc": "exact", "val_acc": "accuracy"}


def final_line(summary: dict[str, Any], headline: str, path: str) -> str:
    """completed: 2000 steps, val loss 1.3540 (1.953 bpc)[, exact 99.8%], 31,800 tok/s, 44.0 s -> PATH"""
    val, bpc = summary["final_val_loss"], summary["final_val_bpc"]
    val_text = "n/a" if val is None else f"{val:.4f}" + ("" if bpc is None else f" ({bpc:.3f} bpc)")
    score = summary.get(f"final_{headline}") if headline != "val_loss" else None
    extra = f", {HEADLINES.get(headline, headline)} {score:.1%}" if isinstance(score, float) else ""
    return (f"[bold]{summary['status']}[/]: {summary['steps']} steps, val loss {val_text}{extra}, "
            f"{summary['tokens_per_s']:,.0f} tok/s, {summary['wall_s']:.1f} s -> {path}")
