"""The live progress line, the run's first line and its last."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from rich.text import Text

from seqlab.engine.callbacks.base import Callback

if TYPE_CHECKING:
    from seqlab.engine.trainer import Trainer


class ProgressDisplay(Callback):
    rank_zero_only = True
    critical = False

    def on_fit_start(self, trainer: Trainer) -> None:
        s, cfg = trainer.state, trainer.cfg
        resumed = f", resumed at step {s.step}" if s.step else ""
        trainer.progress.start()
        trainer.print(f"[bold]{cfg.model.name}[/] on [bold]{cfg.task.name}[/]: {trainer.params:,} parameters, "
                      f"device {trainer.device}{resumed}, run folder {trainer.run.path}")

    def on_log(self, trainer: Trainer, record: dict[str, Any]) -> None:
        last_eval = trainer.state.last_eval or {}
        trainer.progress.update(trainer.state.step, record["train_loss"], last_eval.get("val_loss"),
                                record["tokens_per_s"], record.get("mfu"))

    def on_train_end(self, trainer: Trainer, status: str) -> None:
        trainer.progress.stop()  # the bar's last state first, then the run's last lines

    def on_fit_end(self, trainer: Trainer, summary: dict[str, Any]) -> None:
        line = final_line(summary, trainer.task.headline, str(trainer.run.path))
        trainer.print(line)
        logging.getLogger("seqlab").info(Text.from_markup(line).plain)  # train.log keeps the outcome too
        status, step = summary["status"], summary["steps"]
        if status == "diverged":
            trainer.print(f"[red]diverged at step {step}: the last good checkpoint is in {trainer.run.checkpoints}")
        if status == "interrupted":
            trainer.print(f"stopped at step {step}; continue with: seqlab resume {trainer.run.path}")

    def teardown(self, trainer: Trainer) -> None:
        trainer.progress.stop()


HEADLINES = {"val_seq_acc": "exact", "val_acc": "accuracy"}


def final_line(summary: dict[str, Any], headline: str, path: str) -> str:
    """completed: 2000 steps, val loss 1.3540 (1.953 bpc)[, exact 99.8%], 31,800 tok/s, 44.0 s -> PATH"""
    val, bpc = summary["final_val_loss"], summary["final_val_bpc"]
    val_text = "n/a" if val is None else f"{val:.4f}" + ("" if bpc is None else f" ({bpc:.3f} bpc)")
    score = summary.get(f"final_{headline}") if headline != "val_loss" else None
    extra = f", {HEADLINES.get(headline, headline)} {score:.1%}" if isinstance(score, float) else ""
    return (f"[bold]{summary['status']}[/]: {summary['steps']} steps, val loss {val_text}{extra}, "
            f"{summary['tokens_per_s']:,.0f} tok/s, {summary['wall_s']:.1f} s -> {path}")
