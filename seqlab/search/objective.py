"""What a trial scores: a run's final value of one validation metric, read from its summary.json.

The metric's name says which way is better: losses and bits (val_loss, val_bpc, val_bpb) go
down, accuracies (val_acc, val_seq_acc) go up. `Objective` is the same score for Hydra's
Optuna sweeper (`seqlab train -m hydra/sweeper=optuna`): a Hydra callback that makes each
job's return value its run's final metric.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback as HydraCallback

from seqlab.errors import SeqlabError
from seqlab.runs import SUMMARY

LOWER_IS_BETTER = ("loss", "bpc", "bpb", "ppl")
HIGHER_IS_BETTER = ("acc",)


def direction_of(metric: str) -> str:
    """`minimize` or `maximize`, from the metric's name (val_loss: minimize, val_acc: maximize)."""
    words = metric.split("@")[0].split("_")
    if any(word in LOWER_IS_BETTER for word in words):
        return "minimize"
    if any(word in HIGHER_IS_BETTER for word in words):
        return "maximize"
    raise SeqlabError(f"metric '{metric}': its name says neither a loss nor an accuracy; "
                      "say which way is better with --direction minimize|maximize")


def final_value(summary: dict[str, Any], metric: str) -> float | None:
    """The run's final `metric` (summary.json's `final_<metric>`), or None when it has none."""
    value = summary.get(f"final_{metric}")
    return float(value) if isinstance(value, int | float) else None


def objective_value(run_dir: Path, metric: str) -> float:
    """A finished run's final `metric`; a metric its task does not report is one line naming those it does."""
    try:
        summary = json.loads((Path(run_dir) / SUMMARY).read_text())
    except (OSError, ValueError):
        raise SeqlabError(f"'{run_dir}' has no readable {SUMMARY}: the run did not finish") from None
    value = final_value(summary, metric)
    if value is None:
        reported = sorted(k.removeprefix("final_") for k, v in summary.items()
                          if k.startswith("final_") and isinstance(v, int | float))
        raise SeqlabError(f"metric '{metric}' is not in {run_dir}/{SUMMARY}; this run reports: "
                          f"{', '.join(reported) or 'none'}")
    return value


class Objective(HydraCallback):
    """Hydra callback (`hydra.callbacks.objective`): each finished sweep job returns its run's final
    `metric` to the sweeper, whatever the training function returned."""

    def __init__(self, metric: str = "val_loss") -> None:
        self.metric = metric

    def on_job_end(self, config: Any, job_return: Any, **kwargs: Any) -> None:
        from hydra.core.utils import JobStatus

        if job_return.status == JobStatus.COMPLETED:  # a failed job keeps its exception
            job_return.return_value = objective_value(Path(config.hydra.runtime.output_dir), self.metric)
