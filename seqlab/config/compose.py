"""Composing a config from overrides: the one place Hydra's compose API is called.

Hydra's and OmegaConf's errors become one line (`SeqlabError`), with the fix where a grammar
mistake is recognised (seqlab/config/hints.py).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from seqlab.config.paths import config_dir, user_config_dirs
from seqlab.errors import SeqlabError


def debug_mode() -> bool:
    return os.environ.get("HYDRA_FULL_ERROR") == "1" or os.environ.get("SEQLAB_DEBUG") == "1"


def searchpath_override(dirs: list[Path]) -> list[str]:
    if not dirs:
        return []
    for d in dirs:
        if not d.is_dir():
            raise SeqlabError(f"config dir '{d}' does not exist")
    return ["hydra.searchpath=[" + ",".join(f"file://{d}" for d in dirs) + "]"]


def one_line(err: BaseException) -> str:
    """Hydra/OmegaConf errors span several lines; keep what names the problem, on one."""
    text, cause = str(err), err.__cause__
    while cause is not None:  # Hydra puts the reason ("Key 'x' is not in struct") in the cause
        text += "\n" + str(cause)
        cause = cause.__cause__
    options = re.findall(r"^\t(\S+)$", text, flags=re.M)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    keep = [ln for ln in lines if not ln.startswith(("object_type=", "reference_type=", "full_key:",
                                                        "Available options", "To append"))
            and ln not in options]
    message = "; ".join(dict.fromkeys(keep)) or type(err).__name__  # dict: drop repeats, keep order
    if options:
        message += f"; available: {', '.join(options)}"
    return message


def compose(overrides: list[str], extra_dirs: list[Path] | None = None, with_hydra: bool = False):
    """The composed config for `overrides` (no run folder); compose errors -> SeqlabError."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    from seqlab.config.schema import register_configs

    register_configs()
    search = searchpath_override(user_config_dirs() if extra_dirs is None else extra_dirs)
    try:
        with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
            return hydra_compose("config", overrides=search + list(overrides), return_hydra_config=with_hydra)
    except Exception as err:  # Hydra and OmegaConf raise many kinds; all are input errors here
        if debug_mode():
            raise
        from seqlab.config.hints import explain  # Hydra's grammar errors, with the fix

        raise SeqlabError(explain(one_line(err), list(overrides))) from None


def quote(value: str) -> str:
    """A value as a Hydra override accepts it, whatever characters a path has."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def override_value(overrides: list[str], key: str) -> str | None:
    """The value an override list gives `key` (quotes removed), or None."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    for override in OverridesParser.create().parse_overrides([o for o in overrides if o.startswith(key + "=")]):
        return str(override.value())
    return None
