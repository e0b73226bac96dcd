"""Training FLOPs and MFU of a run, from its family's analytic FLOP model.

`FlopMeter` is part of the Trainer's bookkeeping (rank 0): it writes flops.json at the start
and adds `flops` and `mfu` to every metrics record and to the summary. A family without a FLOP
model (its registry spec says so) gets neither, and the run says so in one line instead of
failing or staying silent. `steps_for_budget` turns trainer.flops_budget into max_steps.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from seqlab.engine.peak import peak_flops
from seqlab.engine.precision import matmul_dtype
from seqlab.errors import SeqlabError
from seqlab.flops import flops_json

if TYPE_CHECKING:
    from seqlab.engine.trainer import Trainer


def steps_for_budget(trainer: Trainer) -> int:
    """max_steps that spends trainer.flops_budget training FLOPs (its family's FLOP model, every
    rank and micro-batch counted)."""
    t, lengths = trainer.cfg.trainer, trainer.task.flop_lengths()
    if trainer.spec.flops is None or lengths is None:
        raise SeqlabError(f"trainer.flops_budget needs a FLOP model; model '{trainer.cfg.model.name}' on task "
                          f"'{trainer.cfg.task.name}' has none (set trainer.max_steps)")
    per_step = flops_json(trainer.cfg.model, len(trainer.task.vocab), lengths[0], t.batch_size,
                          lengths[1])["per_step"]["training"]
    return max(1, math.ceil(t.flops_budget / (per_step * trainer.dist.world_size * t.grad_accum_steps)))


class FlopMeter:
    """FLOPs per training token, the device's peak, and what follows from them."""

    def __init__(self) -> None:
        self.per_token: float | None = None
        self.peak: float | None = None

    def start(self, trainer: Trainer) -> None:
        """flops.json into the run folder, or one line saying why there is none."""
        lengths = trainer.task.flop_lengths()
        if trainer.spec.flops is None or lengths is None:
            why = "its family declares no FLOP model" if trainer.spec.flops is None else "the task has no fixed window"
            trainer.print(f"[dim]no flops.json and no MFU for this run: {why}")
            return
        t = trainer.cfg.trainer
        info = flops_json(trainer.cfg.model, len(trainer.task.vocab), lengths[0], t.batch_size, lengths[1])
        self.peak, source = peak_flops(trainer.device, t.peak_flops, matmul_dtype(t.precision))
        self.per_token = info["per_token"]["training"]
        trainer.run.write_flops({**info, "peak_flops": self.peak, "peak_source": source})

    def annotate(self, record: dict[str, Any], tokens: int) -> None:
        """`flops` (cumulative) and `mfu` (at the record's throughput) into a metrics record."""
        if self.per_token:
            record["flops"] = tokens * self.per_token
            record["mfu"] = record["tokens_per_s"] * self.per_token / self.peak

    def summarize(self, summary: dict[str, Any], tokens: int, train_time_s: float) -> None:
        if self.per_token:
            summary["flops"] = tokens * self.per_token
            summary["mfu"] = tokens * self.per_token / max(train_time_s, 1e-9) / self.peak
