"""Where the bundled configs live, found from any working directory."""

from __future__ import annotations

import os
from pathlib import Path

import seqlab


def config_dir() -> Path:
    """conf/ of a source checkout or editable install, else the copy inside the wheel."""
    package = Path(seqlab.__file__).resolve().parent
    for candidate in (package / "conf", package.parent / "conf"):
        if (candidate / "config.yaml").exists():
            return candidate
    raise RuntimeError(f"seqlab's configs are missing (looked in {package}/conf and {package.parent}/conf)")


def user_config_dirs(extra: Path | None = None) -> list[Path]:
    """Config dirs a user adds (`--config-dir`, SEQLAB_CONFIG_DIR); searched before ours."""
    dirs = [Path(p) for p in os.environ.get("SEQLAB_CONFIG_DIR", "").split(os.pathsep) if p]
    if extra is not None:
        dirs.insert(0, extra)
    return [d.expanduser().resolve() for d in dirs]
