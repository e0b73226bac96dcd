"""Hydra glue: `seqlab train` overrides -> a `hydra.main` job -> Trainer.

Going through `hydra.main` (not only the compose API) keeps what Hydra does for a
command line: multirun sweeps and launchers, the run folder, .hydra/ records.
"""

from __future__ import annotations

import os
import re
import sys
from contextlib import nullcontext
from pathlib import Path

from seqlab.config.paths import config_dir, user_config_dirs
from seqlab.engine.preflight import check_before_run, complete_message, completed_step
from seqlab.engine.runfolder import claim_run_folder, make_folder, reserve_folder, resume_hint
from seqlab.errors import RunWriteError, SeqlabError


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


def _override_value(overrides: list[str], key: str) -> str | None:
    """The value an override list gives `key` (quotes removed), or None."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    for override in OverridesParser.create().parse_overrides([o for o in overrides if o.startswith(key + "=")]):
        return str(override.value())
    return None


def _run_folder(overrides: list[str], cfg, multirun: bool, resume: str | None) -> tuple[Path, list[str]]:
    """The run (or sweep) folder and the override that pins Hydra to it: the run being
    resumed, the folder the user chose (made if missing), or a reserved fresh one."""
    if resume:
        if not (Path(resume) / "config.yaml").is_file():  # a step folder is no place to write a run
            raise SeqlabError(f"trainer.resume: '{resume}' is not a run folder (no config.yaml)")
        return Path(resume), [f"hydra.run.dir={quote(str(Path(resume)))}"]
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf

    key = "hydra.sweep.dir" if multirun else "hydra.run.dir"
    HydraConfig.instance().set_config(cfg)  # resolves ${hydra:...} in the folder pattern
    pattern = Path(OmegaConf.select(cfg, key))
    chosen = _override_value(overrides, key) is not None
    folder = make_folder(pattern) if chosen else reserve_folder(pattern)
    return folder, [f"{key}={quote(str(folder))}"]


def run_train(overrides: list[str], multirun: bool = False, print_cfg: bool = False,
              extra_config_dir: Path | None = None) -> None:
    """Compose and check (a refused run leaves no folder), claim the run folder, then hand
    the command line to hydra.main."""
    dirs = user_config_dirs(extra_config_dir)
    # Composed once here to fail fast on bad input; a sweep's list values (a,b) are left to
    # its jobs, each of which validates itself.
    cfg = compose([o for o in overrides if not multirun or "," not in o], dirs, with_hydra=True)
    if print_cfg:  # Hydra takes one mode: --cfg prints the (first) job's config even for a sweep
        _hydra_main(["--cfg", "job"], dirs, overrides)
        return
    check_before_run(cfg)
    from seqlab.engine.dist_launch import join_outside_launcher, share_run_folder

    ctx = join_outside_launcher(cfg, multirun)  # torchrun: every rank runs this command
    resume, resuming = _resume_of(overrides, cfg, multirun)
    done = completed_step(Path(resume), cfg.trainer.max_steps) if resume else None
    if done is not None:  # touches nothing: not even the lock
        print(complete_message(Path(resume), done))
        return
    folder, pin = _run_folder(overrides, cfg, multirun, resume if resume != "auto" else None) \
        if ctx is None or ctx.is_main else (None, [])
    if ctx is not None:
        folder, pin = share_run_folder(ctx, folder, pin)
    writer = ctx is None or ctx.is_main
    # A sweep's folder holds run folders: each job claims its own (_train_job).
    with nullcontext() if multirun else claim_run_folder(folder, resuming=resuming, writer=writer):
        _hydra_main(["--multirun"] if multirun else [], dirs, list(overrides) + pin)


def _resume_of(overrides: list[str], cfg, multirun: bool) -> tuple[str | None, bool]:
    """(the run folder to continue, whether this is a resume). `trainer.resume=auto` continues
    the folder given as hydra.run.dir when it holds a run, else starts fresh (a requeued job)."""
    resume = None if multirun else cfg.trainer.resume
    if resume != "auto":
        return resume, resume is not None
    chosen = _override_value(overrides, "hydra.run.dir")
    if chosen and (Path(chosen) / "config.yaml").exists():
        return chosen, True
    return None, False


def _hydra_main(mode: list[str], dirs: list[Path], overrides: list[str]) -> None:
    import hydra

    from seqlab.config.schema import register_configs

    register_configs()
    sys.argv = [sys.argv[0], *mode, *_searchpath_override(dirs), *overrides]
    hydra.main(config_path=str(config_dir()), config_name="config", version_base="1.3")(_train_job)()


def _train_job(cfg) -> float | None:
    """One Hydra job: train into Hydra's output dir; errors exit with one line (2: input, 1: a
    failed write), signals with 130/143."""
    from hydra.core.hydra_config import HydraConfig

    from seqlab.config.advice import announce_run  # train.log + warnings at run start
    from seqlab.engine.dist_launch import train as train_in_processes
    from seqlab.engine.distributed import env_context
    from seqlab.engine.trainer import TrainingStopped

    out = Path(HydraConfig.get().runtime.output_dir)
    rank = env_context()
    if rank is None or rank.is_main:
        announce_run(cfg, out)
    try:
        with claim_run_folder(out, resuming=bool(cfg.trainer.resume), writer=rank is None or rank.is_main):
            summary, code = train_in_processes(cfg, out)
            if code:  # spawned ranks printed their own line
                sys.exit(code)
    except SeqlabError as err:
        if debug_mode():
            raise
        hint = resume_hint(out) if isinstance(err, RunWriteError) else ""
        print(f"error: {err}{hint}", file=sys.stderr)
        sys.exit(err.exit_code)
    except TrainingStopped as stop:
        sys.exit(stop.exit_code)
    except KeyboardInterrupt:  # a second Ctrl-C: stop without the clean-up
        sys.exit(130)
    return (summary or {}).get("best_val_loss")  # what a Hydra sweeper would minimise


def run_resume(run_dir: Path, overrides: list[str]) -> None:
    """Continue a run in its own folder with the overrides it was started with (plus `overrides`)."""
    import yaml

    recorded = run_dir / ".hydra" / "overrides.yaml"
    if not (run_dir / "config.yaml").exists() or not recorded.exists():
        raise SeqlabError(f"'{run_dir}' is not a seqlab run folder (no config.yaml or .hydra/overrides.yaml)")
    previous = [o for o in yaml.safe_load(recorded.read_text()) or []
                if not o.startswith(("trainer.resume=", "hydra."))]
    run_train(previous + list(overrides) + [f"trainer.resume={quote(str(run_dir))}"])
