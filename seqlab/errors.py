"""Errors reported as one line on stderr, without a traceback; `exit_code` says whose they are.
Warnings: one yellow `warning:` line on stderr (stdout stays a table, samples or pure JSON)."""


class SeqlabError(Exception):
    """A mistake in the user's input (config, path, flag): exit code 2."""

    exit_code = 2


class RunWriteError(SeqlabError):
    """A file of the run folder could not be written (no space, file too large, I/O error,
    read-only file system): a runtime failure, exit code 1. The message names the file."""

    exit_code = 1


def warn(message: str) -> None:
    """One `warning: ...` line on stderr."""
    import typer

    typer.secho(f"warning: {message}", fg="yellow", err=True)
