"""Everything `seqlab search` checks before a study folder exists, then the folder itself.

The search space is parsed and every end of every range composed and checked as a run's config
would be: an unknown key, a range Optuna cannot sample or a value no run can train with is one
line (exit 2), and nothing is written. Then the study folder is made (or found: a study is
continued only with the settings it was started with) and locked for this process.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seqlab.errors import SeqlabError
from seqlab.search.journal import StudySettings, differing_setting, load_settings, save_settings
from seqlab.search.objective import direction_of
from seqlab.search.space import SearchSpace, corners, parse_overrides, read_space, trial_overrides
from seqlab.search.study import Study

PRUNERS = ("median", "none")
DIRECTIONS = ("minimize", "maximize")


@dataclass
class SearchOptions:
    """`seqlab search`'s options; None: what the composed config says (or the default)."""

    trials: int | None = None
    jobs: int = 1
    metric: str | None = None
    direction: str | None = None
    pruner: str = "median"
    startup_trials: int = 3
    warmup_steps: int = 0

    def check(self) -> None:
        if self.trials is not None and self.trials < 1:
            raise SeqlabError(f"--trials must be at least 1, got {self.trials}")
        if self.jobs < 1:
            raise SeqlabError(f"--jobs must be at least 1, got {self.jobs}")
        if self.pruner not in PRUNERS:
            raise SeqlabError(f"--pruner must be one of {', '.join(PRUNERS)}, got '{self.pruner}'")
        if self.direction is not None and self.direction not in DIRECTIONS:
            raise SeqlabError(f"--direction must be minimize or maximize, got '{self.direction}'")
        if self.startup_trials < 0 or self.warmup_steps < 0:
            raise SeqlabError("--startup-trials and --warmup-steps must not be negative")


def plan_study(overrides: list[str], options: SearchOptions) -> tuple[StudySettings, SearchSpace, Any, int]:
    """(settings, space, the base config, trials), all checked; nothing is written."""
    from omegaconf import OmegaConf

    from seqlab.config.compose import compose

    options.check()
    require_plugin()
    plain = [o for o, parsed in zip(overrides, parse_overrides(overrides)) if not parsed.is_sweep_override()]
    cfg = compose(plain, with_hydra=True)
    configured = OmegaConf.select(cfg, "hydra.sweeper.params")
    space = read_space(overrides, OmegaConf.to_container(configured) if configured else {})
    check_corners(space)
    metric = options.metric or OmegaConf.select(cfg, "hydra.callbacks.objective.metric") or "val_loss"
    direction = options.direction or direction_of(metric)
    trials = options.trials or OmegaConf.select(cfg, "hydra.sweeper.n_trials")
    if not trials:
        raise SeqlabError("how many trials? give --trials N (or hydra.sweeper.n_trials in a search config)")
    settings = StudySettings(metric, direction, space.params, space.fixed, options.pruner,
                             options.startup_trials, options.warmup_steps)
    return settings, space, cfg, int(trials)


def require_plugin() -> None:
    """The Optuna sweeper plugin (and Optuna) are an extra: without them, one line saying how to get them."""
    from importlib.util import find_spec

    if find_spec("optuna") is None or find_spec("hydra_plugins.hydra_optuna_sweeper") is None:
        raise SeqlabError("seqlab search needs Optuna's Hydra sweeper: pip install 'seqlab[search]'")


def check_corners(space: SearchSpace) -> None:
    """Compose and check the config at every end of every range (and every choice)."""
    from seqlab.config.compose import compose
    from seqlab.config.validate import validate_config
    from seqlab.registry import check_serves

    for corner in corners(space):
        try:
            cfg = compose(space.fixed + trial_overrides(corner))
            validate_config(cfg)
            check_serves(cfg.model.name, cfg.task.name)
        except SeqlabError as err:
            raise SeqlabError(f"search space: {err}") from None


def open_study(folder: Path, settings: StudySettings, space: SearchSpace, cfg: Any) -> tuple[Study, Any]:
    """The study in `folder`, made or continued, and the lock this process now holds on it."""
    from seqlab.runs.lock import RunBusyError, RunLock

    folder = Path(folder)
    previous = load_settings(folder) if folder.is_dir() else None
    if previous is None and folder.is_dir() and any(folder.iterdir()):
        raise SeqlabError(f"'{folder}' is not empty and holds no study ({folder}/study.json): "
                          "give a new folder to --study")
    if previous is not None and (key := differing_setting(previous, settings)) is not None:
        raise SeqlabError(f"study '{folder}' was started with another {key} ({getattr(previous, key)!r}, "
                          f"now {getattr(settings, key)!r}); run it with its own settings, or start "
                          "a new study in another folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise SeqlabError(f"cannot create study folder '{folder}': {err.strerror or err}") from None
    lock = RunLock(folder)
    try:
        lock.acquire()
    except RunBusyError:
        raise SeqlabError(f"study '{folder}' is being run by another seqlab search; wait for it "
                          "to end or stop it, then run this again") from None
    if previous is None:
        save_settings(folder, settings)
    choices = cfg.hydra.runtime.choices
    names = {"model": str(choices.get("model")), "task": str(choices.get("task"))}
    return Study(folder, settings, space, names, int(cfg.seed)), lock
