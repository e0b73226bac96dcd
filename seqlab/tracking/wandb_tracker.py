"""Weights & Biases: one W&B run per seqlab run, its files in the run folder's wandb/.

`mode=offline` needs no account (`wandb sync RUN_DIR/wandb/offline-run-*` uploads later).
The run's id is kept in trackers.json: a resume continues the same W&B run and skips the
steps it already logged. A sweep's runs share a W&B group named after the sweep folder.
"""

from __future__ import annotations

import html
import shutil
import uuid
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from seqlab.errors import SeqlabError
from seqlab.tracking.base import Tracker
from seqlab.tracking.run_files import (
    artifacts,
    experiment_name,
    git_commit,
    load_state,
    save_state,
    scalars,
    step_samples,
    sweep_folder,
)

MODES = ("offline", "online", "disabled")


class WandbTracker(Tracker):
    name = "wandb"
    package = "wandb"
    loggers = ("wandb",)

    run: Any = None

    def __init__(self, cfg: Any) -> None:
        if cfg.mode not in MODES:
            raise SeqlabError(f"logger.wandb.mode must be one of {', '.join(MODES)}, got '{cfg.mode}'")
        super().__init__(cfg)

    def start(self, trainer: Any) -> None:
        import wandb

        cfg, self.path = trainer.cfg, trainer.run.path
        state = load_state(self.path, self.name)
        self.last_step = state.get("last_step", 0)
        sweep = sweep_folder(self.path)
        settings = wandb.Settings(console="off", silent=True, x_disable_stats=True, disable_git=True,
                                  x_save_requirements=False, disable_job_creation=True)
        self.run = wandb.init(
            project=self.cfg.project or experiment_name(cfg, None), entity=self.cfg.entity,
            name=self.path.name, id=state.get("run_id") or uuid.uuid4().hex[:8], resume="allow",
            dir=str(self.path), mode=self.cfg.mode, group=sweep.name if sweep else None,
            tags=[cfg.model.name, cfg.task.name], config=OmegaConf.to_container(cfg, resolve=True),
            settings=settings, reinit="create_new",
        )
        self.run.config.update({"git_commit": git_commit()}, allow_val_change=True)
        self._save()

    def log(self, trainer: Any, record: dict[str, Any]) -> None:
        if record["step"] <= self.last_step:  # logged before the interruption this run resumes from
            return
        self.run.log(scalars(record), step=record["step"])
        self.last_step = record["step"]
        self._save()

    def evaluated(self, trainer: Any, metrics: dict[str, float]) -> None:
        import wandb

        step = trainer.state.step
        text = step_samples(trainer.run.samples, step)
        if text and step > self.last_step:
            self.run.log({"samples": wandb.Html(f"<pre>{html.escape(text)}</pre>")}, step=step)

    def finish(self, trainer: Any, summary: dict[str, Any]) -> None:
        self.run.summary.update({**scalars(summary), "status": summary["status"]})
        if self.cfg.log_artifacts:
            for path in artifacts(self.path):  # files in run.dir travel with the run (and `wandb sync`)
                shutil.copy2(path, Path(self.run.dir) / path.name)
        if summary["status"] == "interrupted":
            self.run.mark_preempting()  # W&B shows it as resumable, not crashed
        self.run.finish(exit_code=0 if summary["status"] == "completed" else 1)
        self.run = None

    def _save(self) -> None:
        save_state(self.path, self.name, {"run_id": self.run.id, "last_step": self.last_step})

    def close(self) -> None:
        if self.run is not None:
            try:
                self.run.finish(exit_code=1)
            except Exception:  # noqa: BLE001 - already failing; nothing more to say
                pass
