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
    search = _searchpath_override(user_config_dirs() if extra_dirs is None else extra_dirs)
    try:
        with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
            return hydra_compose("config", overrides=search + list(overrides), return_hydra_config=with_hydra)
    except Exception as err:  # Hydra and OmegaConf raise many kinds; all are input errors here
        if debug_mode():
            raise
        from seqlab.config.hints import explain  # issue 18: Hydra's grammar errors, with the fix

        raise SeqlabError(explain(one_line(err), list(overrides))) from None


def quote(value: str) -> str:
    """A value as a Hydra override accepts it, whatever characters a path has."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def reserve_folder(pattern: str) -> Path:
    """Create the folder `pattern` names, or `pattern-2`, `-3`, ...: two runs started in
    the same second never share one (mkdir is atomic; whoever creates it owns it)."""
    base = Path(pattern)
    base.parent.mkdir(parents=True, exist_ok=True)
    for n in range(1, 1000):
        path = base if n == 1 else base.with_name(f"{base.name}-{n}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise SeqlabError(f"could not create a fresh run folder next to '{base}'")


def _override_value(overrides: list[str], key: str) -> str | None:
    """The value an override list gives `key` (quotes removed), or None."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    for override in OverridesParser.create().parse_overrides([o for o in overrides if o.startswith(key + "=")]):
        return str(override.value())
    return None


def _run_dir_override(overrides: list[str], cfg, multirun: bool) -> list[str]:
    """Pin Hydra's run (or sweep) folder: a reserved fresh one, or the run being resumed."""
    resume = _override_value(overrides, "trainer.resume")
    if resume and not multirun:
        if not Path(resume).is_dir():
            raise SeqlabError(f"trainer.resume: no such run folder '{resume}'")
        return [f"hydra.run.dir={quote(str(Path(resume)))}"]
    if any(o.startswith(("hydra.run.dir=", "hydra.sweep.dir=")) for o in overrides):
        return []  # the user chose
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf

    HydraConfig.instance().set_config(cfg)  # resolves ${hydra:...} in the folder pattern
    key = "hydra.sweep.dir" if multirun else "hydra.run.dir"
    return [f"{key}={quote(str(reserve_folder(OmegaConf.select(cfg, key))))}"]


def run_train(overrides: list[str], multirun: bool = False, print_cfg: bool = False,
              extra_config_dir: Path | None = None) -> None:
    """Compose (to fail fast on bad input), then hand the command line to hydra.main."""
    import hydra

    from seqlab.config.schema import register_configs

    dirs = user_config_dirs(extra_config_dir)
    # Composed once here to fail fast on bad input; a sweep's list values (a,b) are left to
    # its jobs, each of which validates itself.
    cfg = compose([o for o in overrides if not multirun or "," not in o], dirs, with_hydra=True)
    if not print_cfg:
        overrides = list(overrides) + _run_dir_override(overrides, cfg, multirun)
    register_configs()
    # Hydra takes one mode: --cfg prints the (first) job's config even for a sweep.
    argv = [sys.argv[0]] + (["--cfg", "job"] if print_cfg else ["--multirun"] if multirun else [])
    sys.argv = argv + _searchpath_override(dirs) + list(overrides)
    hydra.main(config_path=str(config_dir()), config_name="config", version_base="1.3")(_train_job)()


def _train_job(cfg) -> float | None:
    """One Hydra job: train into Hydra's output dir; user errors exit 2 with one line."""
    from hydra.core.hydra_config import HydraConfig

    from seqlab.config.advice import announce_run  # issue 18: train.log + warnings at run start
    from seqlab.engine.trainer import Trainer, TrainingStopped

    announce_run(cfg, HydraConfig.get().runtime.output_dir)
    try:
        summary = Trainer(cfg, Path(HydraConfig.get().runtime.output_dir)).fit()
    except SeqlabError as err:
        if debug_mode():
            raise
        print(f"error: {err}", file=sys.stderr)
        sys.exit(err.exit_code)
    except TrainingStopped as stop:
        sys.exit(stop.exit_code)
    except KeyboardInterrupt:  # a second Ctrl-C: stop without the clean-up
        sys.exit(130)
    return summary.get("best_val_loss")  # what a Hydra sweeper would minimise


def run_resume(run_dir: Path, overrides: list[str]) -> None:
    """Continue a run in its own folder with the overrides it was started with (plus `overrides`)."""
    import yaml

    recorded = run_dir / ".hydra" / "overrides.yaml"
    if not (run_dir / "config.yaml").exists() or not recorded.exists():
        raise SeqlabError(f"'{run_dir}' is not a seqlab run folder (no config.yaml or .hydra/overrides.yaml)")
    previous = [o for o in yaml.safe_load(recorded.read_text()) or []
                if not o.startswith(("trainer.resume=", "hydra."))]
    run_train(previous + list(overrides) + [f"trainer.resume={quote(str(run_dir))}"])
