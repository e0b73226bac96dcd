"""Hydra glue: `seqlab train` overrides -> a `hydra.main` job -> Trainer.

Going through `hydra.main` (not only the compose API) keeps what Hydra does for a
command line: multirun sweeps and launchers, the run folder, .hydra/ records.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from seqlab.config.paths import config_dir, user_config_dirs
from seqlab.errors import SeqlabError


def debug_mode() -> bool:
    return os.environ.get("HYDRA_FULL_ERROR") == "1" or os.environ.get("SEQLAB_DEBUG") == "1"


def _searchpath_override(dirs: list[Path]) -> list[str]:
    if not dirs:
        return []
    for d in dirs:
        if not d.is_dir():
            raise SeqlabError(f"config dir '{d}' does not exist")
    return ["hydra.searchpath=[" + ",".join(f"file://{d}" for d in dirs) + "]"]


def one_line(err: BaseException) -> str:
    """Hydra/OmegaConf errors span several lines; keep what names the problem, on one."""
    text = str(err)
    options = re.findall(r"^\t(\S+)$", text, flags=re.M)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    keep = [ln for ln in lines if not ln.startswith(("object_type=", "reference_type=", "full_key:",
                                                        "Available options", "To append"))
            and ln not in options]
    message = "; ".join(keep) or type(err).__name__
    if options:
        message += f"; available: {', '.join(options)}"
    return message


def compose(overrides: list[str], extra_dirs: list[Path] | None = None):
    """The composed config for `overrides` (no run folder); compose errors -> SeqlabError."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    from seqlab.config.schema import register_configs

    register_configs()
    search = _searchpath_override(extra_dirs or [])
    try:
        with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
            return hydra_compose("config", overrides=search + list(overrides))
    except Exception as err:  # Hydra and OmegaConf raise many kinds; all are input errors here
        if debug_mode():
            raise
        raise SeqlabError(one_line(err)) from None


def run_train(overrides: list[str], multirun: bool = False, print_cfg: bool = False,
              extra_config_dir: Path | None = None) -> None:
    """Compose (to fail fast on bad input), then hand the command line to hydra.main."""
    import hydra

    from seqlab.config.schema import register_configs

    dirs = user_config_dirs(extra_config_dir)
    if not multirun:  # a sweep's overrides are lists; each job validates itself
        compose(overrides, dirs)
    register_configs()
    argv = [sys.argv[0]] + (["--multirun"] if multirun else []) + (["--cfg", "job"] if print_cfg else [])
    sys.argv = argv + _searchpath_override(dirs) + list(overrides)
    hydra.main(config_path=str(config_dir()), config_name="config", version_base="1.3")(_train_job)()


def _train_job(cfg) -> float | None:
    """One Hydra job: train into Hydra's output dir; user errors exit 2 with one line."""
    from hydra.core.hydra_config import HydraConfig

    from seqlab.engine.trainer import Trainer

    try:
        summary = Trainer(cfg, Path(HydraConfig.get().runtime.output_dir)).fit()
    except SeqlabError as err:
        if debug_mode():
            raise
        print(f"error: {err}", file=sys.stderr)
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    return summary.get("best_val_loss")  # what a Hydra sweeper would minimise
