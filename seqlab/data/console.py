"""What data preparation prints on stderr: its progress bar (text bytes read, MB/s, time left), its lines."""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)


def prepare_progress() -> Progress:
    """A transient bar per pass; shown only on a terminal (logs get the summary line alone)."""
    console = Console(stderr=True)
    return Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                    TransferSpeedColumn(), TimeRemainingColumn(), console=console, transient=True,
                    disable=not sys.stderr.isatty())


def say(message: str) -> None:
    """One line on stderr (stdout stays for what a command prints as its result)."""
    print(message, file=sys.stderr, flush=True)


def format_count(value: float) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= size:
            return f"{value / size:.1f}{unit}"
    return f"{value:.0f}"


def summary_line(meta: dict[str, Any], seconds: float | None = None) -> str:
    """'train 10.0M chars -> 10.0M tokens, ...; char vocabulary of 86; 2.1 s (4.8 MB/s)'."""
    parts = [f"{name} {format_count(s['chars'])} chars -> {format_count(s['tokens'])} tokens"
             for name, s in meta["splits"].items()]
    line = f"{', '.join(parts)}; {meta['tokenizer_kind']} vocabulary of {meta['vocab_size']:,}"
    if seconds is not None:
        size = sum(s["bytes"] for s in meta["splits"].values())
        line += f"; {seconds:.1f} s ({size / max(seconds, 1e-9) / 1e6:.1f} MB/s)"
    return line
