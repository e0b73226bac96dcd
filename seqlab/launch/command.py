"""`seqlab train` and `seqlab resume`: from a command line to a running Trainer, one path.

A run: its config is composed once and checked (a refused run leaves no folder), its run
folder is reserved and claimed once, then the job runs in this process with what Hydra's
`main` would have set up (the Hydra config for `${hydra:...}`, the .hydra/ records, train.log).
A sweep (`-m`) goes through `hydra.main`, which owns sweeps and launchers; each of its jobs
claims its own folder.
"""

from __future__ import annotations

import sys
from contextlib import nullcontext
from pathlib import Path

from seqlab.config.compose import compose, debug_mode, override_value, quote, searchpath_override
from seqlab.config.paths import config_dir, user_config_dirs
from seqlab.errors import RunWriteError, SeqlabError
from seqlab.launch.preflight import check_before_run, complete_message, completed_step
from seqlab.runs import CONFIG, HYDRA_RECORDS
from seqlab.runs.folder import claim_run_folder, make_folder, reserve_folder, resume_hint


def _run_folder(overrides: list[str], cfg, multirun: bool, resume: str | None) -> tuple[Path, list[str]]:
    """The run (or sweep) folder and the override that pins Hydra to it: the run being
    resumed, the folder the user chose (made if missing), or a reserved fresh one."""
    if resume:
        if not (Path(resume) / CONFIG).is_file():  # a step folder is no place to write a run
            raise SeqlabError(f"trainer.resume: '{resume}' is not a run folder (no config.yaml)")
        return Path(resume), [f"hydra.run.dir={quote(str(Path(resume)))}"]
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf

    key = "hydra.sweep.dir" if multirun else "hydra.run.dir"
    HydraConfig.instance().set_config(cfg)  # resolves ${hydra:...} in the folder pattern
    pattern = Path(OmegaConf.select(cfg, key))
    chosen = override_value(overrides, key) is not None
    folder = make_folder(pattern) if chosen else reserve_folder(pattern)
    return folder, [f"{key}={quote(str(folder))}"]


def run_train(overrides: list[str], multirun: bool = False, print_cfg: bool = False,
              extra_config_dir: Path | None = None) -> None:
    """Compose and check (a refused run leaves no folder), claim the run folder, then hand
    the command line to hydra.main. SIGTERM, like Ctrl-C, stops a run still being set up
    with the same clean-up (seqlab/launch/processes.py)."""
    from seqlab.launch.processes import Interrupted, signals_interrupt, stopped_line

    try:
        with signals_interrupt():
            _run_train(overrides, multirun, print_cfg, extra_config_dir)
    except Interrupted as stop:  # before the run folder was claimed, or on the way out of it
        print(stopped_line(stop, None), file=sys.stderr)
        sys.exit(stop.exit_code)
    _leave_if_a_torchrun_rank()


def _leave_if_a_torchrun_rank() -> None:
    """A torchrun rank whose run is done (its folder released) exits as a rank seqlab spawns does."""
    from seqlab.engine.distributed import env_context
    from seqlab.launch.spawn import leave

    if env_context() is not None:
        leave(0)


def _run_train(overrides: list[str], multirun: bool, print_cfg: bool,
               extra_config_dir: Path | None) -> None:
    dirs = user_config_dirs(extra_config_dir)
    # Composed once here to fail fast on bad input; a sweep's list values (a,b) are left to
    # its jobs, each of which validates itself.
    cfg = compose([o for o in overrides if not multirun or "," not in o], dirs, with_hydra=True)
    if print_cfg:  # Hydra takes one mode: --cfg prints the (first) job's config even for a sweep
        _hydra_main(["--cfg", "job"], dirs, overrides)
        return
    check_before_run(cfg)
    from seqlab.launch.processes import join_outside_launcher, share_run_folder

    ctx = join_outside_launcher(cfg, multirun)  # torchrun: every rank runs this command
    resume, resuming = _resume_of(overrides, cfg, multirun)
    done = completed_step(Path(resume), cfg.trainer.max_steps) if resume else None
    if done is not None:  # touches nothing: not even the lock
        print(complete_message(Path(resume), done))
        return
    _check_saved_inputs(cfg, resume)
    folder, pin = _run_folder(overrides, cfg, multirun, resume if resume != "auto" else None) \
        if ctx is None or ctx.is_main else (None, [])
    if ctx is not None:
        folder, pin = share_run_folder(ctx, folder, pin)
    writer = ctx is None or ctx.is_main
    if multirun:  # a sweep's folder holds run folders: each job claims its own (_train_job)
        _hydra_main(["--multirun"], dirs, list(overrides) + pin)
        return
    with claim_run_folder(folder, resuming=resuming, writer=writer):
        _run_job(cfg, folder, writer)


def _check_saved_inputs(cfg, resume: str | None) -> None:
    """The checkpoint files a resume or trainer.init_from reads, checked before anything is written:
    a damaged one is one line, and the run folder stays exactly as it was."""
    from seqlab.runs import CHECKPOINTS, LAST
    from seqlab.runs.checkpoint import resolve_checkpoint
    from seqlab.runs.init_from import check_source
    from seqlab.runs.train_state import check_resumable

    if resume and (Path(resume) / CHECKPOINTS / LAST).exists():
        check_resumable(resolve_checkpoint(Path(resume), "last"))
    if cfg.trainer.init_from:
        check_source(cfg.trainer.init_from)


def _resume_of(overrides: list[str], cfg, multirun: bool) -> tuple[str | None, bool]:
    """(the run folder to continue, whether this is a resume). `trainer.resume=auto` continues
    the folder given as hydra.run.dir when it holds a run, else starts fresh (a requeued job)."""
    resume = None if multirun else cfg.trainer.resume
    if resume != "auto":
        return resume, resume is not None
    chosen = override_value(overrides, "hydra.run.dir")
    if chosen and (Path(chosen) / CONFIG).exists():
        return chosen, True
    return None, False


def _hydra_main(mode: list[str], dirs: list[Path], overrides: list[str]) -> None:
    import hydra

    from seqlab.config.schema import register_configs

    register_configs()
    sys.argv = [sys.argv[0], *mode, *searchpath_override(dirs), *overrides]
    hydra.main(config_path=str(config_dir()), config_name="config", version_base="1.3")(_train_job)()


def _run_job(cfg, folder: Path, writer: bool) -> None:
    """What `hydra.main` does for one run, on the config composed once: the Hydra config set
    (for `${hydra:...}`), then, in the process that writes the folder, .hydra/config.yaml,
    hydra.yaml and overrides.yaml, and logging into train.log; then the job."""
    import copy

    from hydra.core.hydra_config import HydraConfig
    from hydra.core.utils import _save_config, configure_log
    from hydra.types import RunMode
    from omegaconf import open_dict, read_write

    with read_write(cfg.hydra), open_dict(cfg.hydra):
        cfg.hydra.run.dir = str(folder)
        cfg.hydra.runtime.output_dir = str(folder.resolve())
        cfg.hydra.mode = RunMode.RUN
    HydraConfig.instance().set_config(cfg)
    task_cfg = copy.deepcopy(cfg)
    with read_write(task_cfg), open_dict(task_cfg):
        del task_cfg["hydra"]
    if writer and cfg.hydra.output_subdir is not None:
        records = folder / str(cfg.hydra.output_subdir)
        _save_config(task_cfg, "config.yaml", records)
        _save_config(HydraConfig.instance().cfg, "hydra.yaml", records)
        _save_config(cfg.hydra.overrides.task, "overrides.yaml", records)
    if writer:
        configure_log(cfg.hydra.job_logging, cfg.hydra.verbose)
    _train(task_cfg, Path(cfg.hydra.runtime.output_dir), claim=False)


def _train_job(cfg) -> float | None:
    """One job of a sweep: Hydra made its folder; it claims it, then trains."""
    from hydra.core.hydra_config import HydraConfig

    return _train(cfg, Path(HydraConfig.get().runtime.output_dir), claim=True)


def _train(cfg, out: Path, claim: bool) -> float | None:
    """Train into `out`; errors exit with one line (2: input, 1: a failed write), signals with
    130/143. Returns what a Hydra sweeper would minimise."""
    from seqlab.config.advice import announce_run  # train.log + warnings at run start
    from seqlab.engine.distributed import env_context
    from seqlab.engine.trainer import TrainingStopped
    from seqlab.launch.processes import Interrupted, stopped_line
    from seqlab.launch.processes import train as train_in_processes

    rank = env_context()
    writer = rank is None or rank.is_main
    try:
        with claim_run_folder(out, resuming=bool(cfg.trainer.resume), writer=writer) if claim else nullcontext():
            if claim:  # a sweep's job: the checks a single run passed before its folder existed
                check_before_run(cfg)
            if writer:
                announce_run(cfg, out)
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
    except KeyboardInterrupt as stop:  # a signal before training (Interrupted), or a second Ctrl-C
        if isinstance(stop, Interrupted) and writer:
            print(stopped_line(stop, out), file=sys.stderr)
        sys.exit(getattr(stop, "exit_code", 130))
    return (summary or {}).get("best_val_loss")  # what a Hydra sweeper would minimise


def run_resume(run_dir: Path, overrides: list[str]) -> None:
    """Continue a run in its own folder with the overrides it was started with (plus `overrides`)."""
    from seqlab.runs.reader import recorded_overrides

    recorded = run_dir / HYDRA_RECORDS / "overrides.yaml"
    if not (run_dir / CONFIG).exists() or not recorded.exists():
        raise SeqlabError(f"'{run_dir}' is not a seqlab run folder (no config.yaml or .hydra/overrides.yaml)")
    previous = [o for o in recorded_overrides(run_dir) if not o.startswith(("trainer.resume=", "hydra."))]
    run_train(previous + list(overrides) + [f"trainer.resume={quote(str(run_dir))}"])
