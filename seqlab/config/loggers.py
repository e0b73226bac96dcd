"""Schemas for the `logger` config group: the experiment trackers a run mirrors itself into.

`logger` is a list (`logger=[tensorboard,mlflow]`); each chosen tracker's settings land
under `logger.<name>`. The run folder stays the source of truth; trackers only mirror it.
"""

from dataclasses import dataclass


@dataclass
class TensorBoardConfig:
    """TensorBoard event files inside the run folder."""

    log_dir: str = "tb"
    """Event-file folder, relative to the run folder (`tensorboard --logdir RUN_OR_SWEEP_DIR`)."""
    samples: bool = True
    """Log each evaluation's samples (samples.txt) as text."""


@dataclass
class MLflowConfig:
    """An MLflow run per seqlab run, on a local store or a tracking server."""

    tracking_uri: str = "sqlite:///outputs/mlflow/mlflow.db"
    """Where runs go: `sqlite:///PATH` (a local store, no server) or a server, `http://HOST:PORT`."""
    experiment_name: str | None = None
    """MLflow experiment; None: the seqlab experiment's name (`+experiment=`), else `seqlab`."""
    artifact_location: str | None = None
    """Artefact root of a new experiment; None: `artifacts/` next to a sqlite store, else the server's."""
    log_artifacts: bool = True
    """Upload config.yaml, loss.png, samples.txt, flops.json and summary.json at the end."""
    request_timeout_s: int = 10
    """Seconds one request to a server may take before the tracker gives up (training goes on)."""


@dataclass
class WandbConfig:
    """A Weights & Biases run per seqlab run; files go to the run folder's wandb/."""

    mode: str = "offline"
    """`offline` (no account, sync later with `wandb sync`), `online` or `disabled`."""
    project: str | None = None
    """W&B project; None: the seqlab experiment's name, else `seqlab`."""
    entity: str | None = None
    """W&B user or team; None: the account's default."""
    log_artifacts: bool = True
    """Save config.yaml, loss.png, samples.txt, flops.json and summary.json with the run."""


LOGGER_SCHEMAS = {"tensorboard": TensorBoardConfig, "mlflow": MLflowConfig, "wandb": WandbConfig}
