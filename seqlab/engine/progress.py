"""The live progress line of a training run (rich).

It must fit an 80-column terminal whole: the counter and the ETA never shrink (they are
what a glance looks for), the bar takes what is left, and on a narrow terminal the stats
switch to a compact form ("131.5k tok/s") instead of being cut.
"""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Column

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
