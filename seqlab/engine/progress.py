"""The live progress line of a training run (rich)."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


class TrainProgress:
    """step / max, train loss, last val loss, tokens/s, MFU and ETA; silent when disabled."""

    def __init__(self, total: int, enabled: bool = True, console: Console | None = None) -> None:
        self.enabled = enabled
        self._progress = Progress(
            TextColumn("[bold]train"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[stats]}"), TimeRemainingColumn(),
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
        parts = []
        if train_loss is not None:
            parts.append(f"loss {train_loss:.4f}")
        if val_loss is not None:
            parts.append(f"val {val_loss:.4f}")
        parts.append(f"{tokens_per_s:,.0f} tok/s")
        if mfu is not None:
            parts.append(f"MFU {100 * mfu:.1f}%")
        self._progress.update(self._task, completed=step, stats=" | ".join(parts))

    def print(self, message: str) -> None:
        if self.enabled:
            self._progress.console.print(message)
