"""Errors a user can cause. The CLI prints them as one line and exits with code 2."""


class SeqlabError(Exception):
    """A mistake in the user's input (config, path, flag): reported without a traceback."""

    exit_code = 2
