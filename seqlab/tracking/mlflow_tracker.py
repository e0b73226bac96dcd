"""MLflow: one MLflow run per seqlab run, on a local sqlite store or a tracking server.

Params are the flattened config, metrics every metrics.jsonl scalar per step (logged in
the background: a slow server never holds a step up), `summary/<key>` the summary's
numbers, artefacts the run folder's small files. Run name = the run folder's name; tags
model, task and the git commit. A sweep's runs are children of one parent run, whose id
the sweep folder keeps. A resume reopens the run whose id trackers.json keeps.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

from seqlab.tracking.base import Tracker
from seqlab.tracking.run_files import (
    artifacts,
    experiment_name,
    flat_config,
    git_commit,
    load_state,
    save_state,
    scalars,
    sweep_folder,
)

SQLITE = "sqlite:///"
BATCH = 100  # MLflow's log_batch takes at most 100 params per call
STATUS = {"completed": "FINISHED", "interrupted": "KILLED", "diverged": "FAILED"}


def default_artifact_root(tracking_uri: str) -> str | None:
    """artifacts/ next to a sqlite store (MLflow would use ./mlruns in the working directory)."""
    if not tracking_uri.startswith(SQLITE):
        return None
    return (Path(tracking_uri[len(SQLITE):]).resolve().parent / "artifacts").as_uri()


class MLflowTracker(Tracker):
    name = "mlflow"
    package = "mlflow"
    loggers = ("mlflow", "alembic", "sqlalchemy.engine", "huey", "urllib3")

    client: Any = None
    run_id: str | None = None

    def start(self, trainer: Any) -> None:
        # MLflow retries a dead server for minutes by default; fail within seconds instead.
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(self.cfg.request_timeout_s))
        from mlflow import MlflowClient
        from mlflow.entities import Param

        logging.getLogger("mlflow").setLevel(logging.WARNING)  # not "Creating initial MLflow database tables"

        uri = self.cfg.tracking_uri
        if uri.startswith(SQLITE):
            Path(uri[len(SQLITE):]).parent.mkdir(parents=True, exist_ok=True)
        self.client, self.path, self.pending = MlflowClient(tracking_uri=uri), trainer.run.path, []
        state = load_state(self.path, self.name)
        resuming = state.get("run_id") is not None and state.get("tracking_uri") == uri
        self.last_step = state.get("last_step", 0) if resuming else 0
        if resuming:
            self.run_id, self.parent_id = state["run_id"], state.get("parent_run_id")
            self.client.update_run(self.run_id, status="RUNNING")
            logged = self.client.get_run(self.run_id).data.params
        else:
            self.run_id, self.parent_id = self._create_run(trainer)
            logged = {}
        params = [Param(k, str(v)[:6000]) for k, v in flat_config(trainer.cfg).items() if k not in logged]
        for i in range(0, len(params), BATCH):  # a resume with new overrides adds only the new keys
            self.client.log_batch(self.run_id, params=params[i:i + BATCH])
        self._save()

    def _create_run(self, trainer: Any) -> tuple[str, str | None]:
        cfg = trainer.cfg
        experiment_id = self._experiment(experiment_name(cfg, self.cfg.experiment_name))
        tags = {"model": cfg.model.name, "task": cfg.task.name, "seqlab.run_dir": str(self.path.resolve())}
        commit = git_commit()
        if commit:
            tags |= {"git_commit": commit, "mlflow.source.git.commit": commit}
        sweep = sweep_folder(self.path)
        parent_id = self._parent_run(experiment_id, sweep) if sweep else None
        if parent_id:
            tags["mlflow.parentRunId"] = parent_id
        run = self.client.create_run(experiment_id, run_name=self.path.name, tags=tags)
        return run.info.run_id, parent_id

    def _experiment(self, name: str) -> str:
        found = self.client.get_experiment_by_name(name)
        if found is not None:
            return found.experiment_id
        location = self.cfg.artifact_location or default_artifact_root(self.cfg.tracking_uri)
        try:
            return self.client.create_experiment(name, artifact_location=location)
        except Exception:  # a sibling of a parallel sweep created it first
            found = self.client.get_experiment_by_name(name)
            if found is None:
                raise
            return found.experiment_id

    def _parent_run(self, experiment_id: str, sweep: Path) -> str:
        """The sweep's parent run: created by its first job, found by the others (under a lock)."""
        import fcntl

        with open(sweep / ".trackers.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # parallel jobs of a sweep: one creates, the others read
            parents = load_state(sweep, "mlflow_parent")
            if self.cfg.tracking_uri not in parents:
                run = self.client.create_run(experiment_id, run_name=sweep.name,
                                             tags={"seqlab.sweep_dir": str(sweep.resolve())})
                parents[self.cfg.tracking_uri] = run.info.run_id
                save_state(sweep, "mlflow_parent", parents)
            return parents[self.cfg.tracking_uri]

    def log(self, trainer: Any, record: dict[str, Any]) -> None:
        from mlflow.entities import Metric

        step = record["step"]
        if step <= self.last_step:  # logged before the interruption this run resumes from
            return
        now = int(time.time() * 1000)
        metrics = [Metric(k, v, now, step) for k, v in scalars(record).items()]
        self.pending.append(self.client.log_batch(self.run_id, metrics=metrics, synchronous=False))
        self.last_step = step
        self._save()

    def finish(self, trainer: Any, summary: dict[str, Any]) -> None:
        from mlflow.entities import Metric

        for operation in self.pending:  # the background uploads end (or raise) here
            operation.wait()
        self.pending = []
        now, step = int(time.time() * 1000), trainer.state.step
        final = [Metric(f"summary/{k}", v, now, step) for k, v in scalars(summary).items()]
        self.client.log_batch(self.run_id, metrics=final)
        self.client.set_tag(self.run_id, "status", summary["status"])
        if self.cfg.log_artifacts:
            for path in artifacts(self.path):
                self.client.log_artifact(self.run_id, str(path))
        self.client.set_terminated(self.run_id, STATUS.get(summary["status"], "FINISHED"))
        if self.parent_id:  # the parent shows the latest child's end; a sweep has no other end
            self.client.set_terminated(self.parent_id)

    def _save(self) -> None:
        save_state(self.path, self.name, {"tracking_uri": self.cfg.tracking_uri, "run_id": self.run_id,
                                          "parent_run_id": self.parent_id, "last_step": self.last_step})

    def close(self) -> None:
        if self.client is not None and self.run_id is not None:
            try:
                self.client.set_terminated(self.run_id, "FAILED")
            except Exception:  # noqa: BLE001 - the server that failed may well fail again
                pass
