"""The root config schema and its registration with Hydra's ConfigStore."""

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING


@dataclass
class TrainerConfig:
    """How the engine trains: optimiser, schedule, evaluation and logging cadence."""

    max_steps: int = 2000
    """Optimiser steps to take."""
    flops_budget: float | None = None
    """Train for this many analytic training FLOPs instead (all ranks): max_steps becomes
    ceil(budget / FLOPs per step), so runs of different models or tokenizers match in compute."""
    batch_size: int = 32
    """Sequences per step and process (global batch = batch_size x devices x grad_accum_steps)."""
    grad_accum_steps: int = 1
    """Micro-batches of batch_size per optimiser step (in DDP, gradients sync on the last only)."""
    devices: int = 1
    """Processes training one run with DistributedDataParallel (spawned from `seqlab train`)."""
    dist_backend: str | None = None
    """torch.distributed backend: None = gloo on CPU, nccl on CUDA."""
    dist_timeout_s: float = 120.0
    """A rank that waits longer than this on the others (dead or hung) stops the run with an error."""
    optimizer: str = "adam"
    """`adam` or `adamw`."""
    lr: float = 1e-3
    """Peak learning rate."""
    weight_decay: float = 0.0
    """L2 (adam) or decoupled (adamw) weight decay."""
    beta1: float = 0.9
    """Adam's first-moment decay."""
    beta2: float = 0.999
    """Adam's second-moment decay."""
    grad_clip: float = 1.0
    """Clip the global gradient norm to this value; 0 turns clipping off."""
    lr_schedule: str = "constant"
    """`constant` or `cosine` (decay to min_lr_ratio * lr after warmup)."""
    warmup_steps: int = 0
    """Linear warm-up steps from 0 to lr."""
    min_lr_ratio: float = 0.1
    """Final lr as a fraction of lr for the cosine schedule."""
    eval_every: int = 500
    """Evaluate on the validation split every N steps (and always at the last step)."""
    early_stop_patience: int | None = None
    """Stop when this many evaluations in a row bring no lower validation loss (summary.json's
    stop_reason: early_stop); None: train to max_steps."""
    eval_batches: int = 100
    """Validation batches per evaluation (fixed, evenly spaced windows: comparable across evals)."""
    log_every: int = 50
    """Write a metrics.jsonl record every N steps."""
    sample_prompt: str = "Once upon a time"
    """Prompt for the samples written to samples.txt at each evaluation."""
    sample_tokens: int = 200
    """New tokens per sample in samples.txt."""
    num_samples: int = 2
    """Samples per evaluation in samples.txt; 0 turns sampling off."""
    sample_temperature: float = 0.8
    """Softmax temperature of those samples."""
    checkpoint_every: int = 0
    """Also checkpoint every N steps (0: only at evaluations and at the end)."""
    keep_last: int = 1
    """Step checkpoints to keep (the best one is always kept as well)."""
    resume: str | None = None
    """A run folder to continue (weights, optimiser, RNG streams, data position, metrics), or
    `auto`: this run's own folder if it has a checkpoint, else a fresh start (requeued jobs)."""
    init_from: str | None = None
    """A run folder (or step folder) whose best checkpoint initialises the model: tensors of
    matching name and shape are loaded, the rest keep their init (fine-tuning)."""
    init_from_partial: bool = False
    """Start from trainer.init_from even when none of its tensors fits this model (a run of another
    model family): the run then starts from its own init. False: such a run is refused."""
    max_skipped_steps: int = 0
    """Steps with a non-finite loss or gradient to skip before the run counts as diverged."""
    precision: str = "fp32"
    """`fp32`; `bf16`: forward passes under bf16 autocast, weights and optimiser in fp32; `fp16`
    (GPUs without bf16): fp16 autocast with a gradient scaler."""
    tf32: bool = False
    """Let fp32 matmuls use TF32 tensor cores (CUDA, Ampere and newer)."""
    compile: bool = False
    """torch.compile the training forward pass (checkpoints hold the plain weights either way)."""
    peak_flops: float | None = None
    """Peak FLOP/s for MFU; None: a known GPU's datasheet figure, or a measured CPU matmul peak."""


@dataclass
class Reference:
    """A number the seed reported for one run of an experiment, shown next to ours."""

    run: str = MISSING
    """The override that names the run within its experiment, e.g. `model=gru`."""
    train_loss: float = MISSING
    """The seed's reported training loss (last batch, nats/char)."""


@dataclass
class Config:
    """Root config: one model, one task, one trainer, and where to run."""

    model: Any = MISSING
    """Chosen from conf/model/ (`model=gru`)."""
    task: Any = MISSING
    """Chosen from conf/task/ (`task=tinystories`)."""
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    """Chosen from conf/trainer/ (`trainer=default`)."""
    device: str = "auto"
    """`auto` (cuda > mps > cpu), `cpu`, `cuda`, `cuda:N` or `mps`."""
    seed: int = 1337
    """Seeds torch, numpy and python's random (init, batches, dropout, samples)."""
    threads: int | None = None
    """torch.set_num_threads for CPU runs; None keeps torch's default."""
    experiment: str | None = None
    """Name of the experiment (conf/experiment/) this run belongs to; set by `+experiment=`."""
    width: int | None = None
    """One width for every family, read by the presets that ask for it (conf/zoology/ maps it to
    n_embd, or embed_size and hidden_size); null elsewhere."""
    reference: list[Reference] = field(default_factory=list)
    """What the seed reported for the experiment's runs (`seqlab report` shows it beside ours)."""
    logger: Any = field(default_factory=dict)
    """Experiment trackers, chosen from conf/logger/ as a list (`logger=[tensorboard,mlflow]`)."""


def register_configs() -> None:
    """Register the schemas so that conf/*.yaml can name them in their defaults lists. Each is
    stored once per process (storing one converts its dataclass: a tenth of a compose), and again
    only when its name now holds another schema (a model or task registered since)."""
    from seqlab.config.loggers import LOGGER_SCHEMAS
    from seqlab.registry import MODELS, TASKS

    _store(None, "config_schema", Config)
    _store("trainer", "trainer_schema", TrainerConfig)
    for name, spec in MODELS.items():
        _store("model", f"schema_{name}", spec.config)
    for name, spec in TASKS.items():
        _store("task", f"schema_{name}", spec.config)
    for name, schema in LOGGER_SCHEMAS.items():
        _store("logger", f"schema_{name}", schema)


_STORED: dict[tuple[str | None, str], Any] = {}
"""(group, name) -> the schema stored under it in Hydra's ConfigStore by this process."""


def _store(group: str | None, name: str, node: Any) -> None:
    if _STORED.get((group, name)) is not node:
        ConfigStore.instance().store(group=group, name=name, node=node)
        _STORED[(group, name)] = node
