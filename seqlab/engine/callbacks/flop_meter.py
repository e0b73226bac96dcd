"""Cumulative training FLOPs and MFU, from the family's analytic FLOP model."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from seqlab.engine.callbacks.base import Callback
from seqlab.engine.peak import peak_flops
from seqlab.engine.precision import matmul_dtype
from seqlab.flops import flops_json

if TYPE_CHECKING:
    from seqlab.engine.step import StepResult
    from seqlab.engine.trainer import Trainer


def steps_for_budget(trainer: Trainer) -> int:
    """max_steps that spends trainer.flops_budget training FLOPs (its family's FLOP model, every
    rank and micro-batch counted)."""
    import math

    from seqlab.errors import SeqlabError

    t, lengths = trainer.cfg.trainer, trainer.task.flop_lengths()
    if trainer.spec.flops is None or lengths is None:
        raise SeqlabError(f"trainer.flops_budget needs a FLOP model; model '{trainer.cfg.model.name}' on task "
                          f"'{trainer.cfg.task.name}' has none (set trainer.max_steps)")
    per_step = flops_json(trainer.cfg.model, len(trainer.task.vocab), lengths[0], t.batch_size,
                          lengths[1])["per_step"]["training"]
    return max(1, math.ceil(t.flops_budget / (per_step * trainer.dist.world_size * t.grad_accum_steps)))


class FlopMeter(Callback):
    """Writes flops.json at the start; adds `flops` and `mfu` to every record and the summary.

    A family without a FLOP model (its registry spec says so) gets neither, and the run
    says so in one line instead of failing or staying silent.
    """

    rank_zero_only = True

    def __init__(self) -> None:
        self.per_token: float | None = None
        self.peak: float | None = None

    def on_fit_start(self, trainer: Trainer) -> None:
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

    def on_step_end(self, trainer: Trainer, result: StepResult) -> None:
        if self.per_token and result.record is not None:
            result.record["flops"] = trainer.state.tokens * self.per_token
            result.record["mfu"] = result.record["tokens_per_s"] * self.per_token / self.peak

    def on_summary(self, trainer: Trainer, summary: dict[str, Any]) -> None:
        if self.per_token:
            s = trainer.state
            summary["flops"] = s.tokens * self.per_token
            summary["mfu"] = s.tokens * self.per_token / max(s.train_time_s, 1e-9) / self.peak
