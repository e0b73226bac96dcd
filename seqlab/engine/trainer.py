"""The training loop: build task and model from the config, train, evaluate, write the run.

Ready for multi-process training: `rank`/`world_size` are parameters, only rank 0's
RunDir writes, and every per-step quantity lives in `TrainState`.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf

from seqlab.config.validate import validate_config
from seqlab.engine.checkpoint import save_checkpoint
from seqlab.engine.device import resolve_device, seed_everything
from seqlab.engine.optim import lr_at, make_optimizer
from seqlab.engine.progress import TrainProgress
from seqlab.engine.rundir import RunDir
from seqlab.registry import build_model, build_task
from seqlab.sampling import sample_texts
from seqlab.tasks.base import Batch


@dataclass
class TrainState:
    """Counters that describe how far a run has come."""

    step: int = 0
    tokens: int = 0
    train_time_s: float = 0.0
    best_val_loss: float | None = None
    best_val_bpc: float | None = None
    last_eval: dict[str, float] | None = None


def train_step(model: torch.nn.Module, task: Any, batch: Batch, optimizer: torch.optim.Optimizer,
               grad_clip: float) -> tuple[torch.Tensor, torch.Tensor | None]:
    """One optimiser step; returns the loss and the gradient norm before clipping (detached)."""
    loss = task.loss(model, batch)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip) if grad_clip > 0 else None
    optimizer.step()
    return loss.detach(), grad_norm


class Trainer:
    """Owns one run: its model, task, optimiser, state and run folder."""

    def __init__(self, cfg: Any, run_dir: Path, rank: int = 0, world_size: int = 1) -> None:
        validate_config(cfg)
        self.cfg, self.tcfg = cfg, cfg.trainer
        self.is_main = rank == 0
        self.device = resolve_device(cfg.device)
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        seed_everything(cfg.seed)
        self.run = RunDir(run_dir, enabled=self.is_main)
        self.task = build_task(cfg.task)
        self.model = build_model(cfg.model, len(self.task.vocab)).to(self.device)
        self.params = sum(p.numel() for p in self.model.parameters())
        self.optimizer = make_optimizer(self.model, self.tcfg)
        # Batches come from their own generator: the data order does not depend on init.
        self.data_rng = torch.Generator().manual_seed(cfg.seed + rank)
        self.state = TrainState()
        self.records: list[dict[str, Any]] = []
        self.run.write_config(OmegaConf.to_yaml(cfg, resolve=True))

    def fit(self) -> dict[str, Any]:
        """Train to max_steps; returns (and writes) the summary."""
        t = self.tcfg
        progress = TrainProgress(t.max_steps, enabled=self.is_main)
        progress.print(f"[bold]{self.cfg.model.name}[/] on [bold]{self.cfg.task.name}[/]: "
                       f"{self.params:,} parameters, device {self.device}, run folder {self.run.path}")
        start = time.perf_counter()
        loss_sum, loss_count, status = torch.zeros((), device=self.device), 0, "running"
        try:
            with progress:
                while self.state.step < t.max_steps:
                    step_start = time.perf_counter()
                    for group in self.optimizer.param_groups:
                        group["lr"] = lr_at(self.state.step, t)
                    batch = self.task.train_batch(t.batch_size, self.data_rng).to(self.device)
                    loss, grad_norm = train_step(self.model, self.task, batch, self.optimizer, t.grad_clip)
                    loss_sum += loss
                    loss_count += 1
                    self.state.step += 1
                    self.state.tokens += batch.num_tokens
                    self.state.train_time_s += time.perf_counter() - step_start

                    step, last = self.state.step, self.state.step == t.max_steps
                    evaluating = step % t.eval_every == 0 or last
                    if step % t.log_every == 0 or evaluating:
                        record = self._record(start, loss_sum.item() / loss_count, grad_norm)
                        loss_sum.zero_()
                        loss_count = 0
                        if evaluating:
                            record.update(self._evaluate())
                        self.records.append(record)
                        self.run.log(record)
                        progress.update(step, record["train_loss"], (self.state.last_eval or {}).get("val_loss"),
                                        record["tokens_per_s"])
                        if not record["train_loss"] == record["train_loss"]:  # NaN
                            status = "diverged"
                            break
            status = "completed" if status == "running" else status
        except KeyboardInterrupt:
            status = "interrupted"
            self._checkpoint(best=False)
        summary = self._summary(status, time.perf_counter() - start)
        self.run.write_summary(summary)
        self.run.plot_losses(self.records)
        progress.print(self._final_line(summary))
        if status == "interrupted":
            raise KeyboardInterrupt
        return summary

    def _record(self, start: float, train_loss: float, grad_norm: torch.Tensor | None) -> dict[str, Any]:
        s = self.state
        return {
            "step": s.step, "tokens": s.tokens, "elapsed_s": round(time.perf_counter() - start, 3),
            "lr": self.optimizer.param_groups[0]["lr"], "train_loss": train_loss,
            "grad_norm": None if grad_norm is None else float(grad_norm),
            "tokens_per_s": s.tokens / max(s.train_time_s, 1e-9),
        }

    def _evaluate(self) -> dict[str, float]:
        """Validation metrics, samples, checkpoints and the loss plot, at one step."""
        t, s = self.tcfg, self.state
        metrics = self.task.evaluate(self.model, t.batch_size, t.eval_batches, self.device)
        s.last_eval = metrics
        improved = s.best_val_loss is None or metrics["val_loss"] < s.best_val_loss
        if improved:
            s.best_val_loss, s.best_val_bpc = metrics["val_loss"], metrics.get("val_bpc")
        if self.is_main:
            if t.num_samples > 0:
                self.run.add_samples(s.step, t.sample_prompt, self._samples())
            if hasattr(self.task, "write_artifacts"):  # task-specific pictures, e.g. alignment.png
                self.task.write_artifacts(self.model, self.run.path, self.device)
            self._checkpoint(best=improved, metrics=metrics)
            self.run.plot_losses(self.records + [{"step": s.step, **metrics}])
        return metrics

    def _samples(self) -> list[str]:
        """Generated text for samples.txt; a task that is not free text shows its own examples."""
        t = self.tcfg
        if hasattr(self.task, "examples"):
            return self.task.examples(self.model, t.num_samples, self.device)
        return sample_texts(self.model, self.task.vocab, t.sample_prompt, t.num_samples, t.sample_tokens,
                            t.sample_temperature, seed=self.cfg.seed + self.state.step, device=self.device)

    def _checkpoint(self, best: bool, metrics: dict[str, float] | None = None) -> None:
        if not self.is_main:
            return
        meta = {
            "step": self.state.step, "model": self.cfg.model.name, "task": self.cfg.task.name,
            "params": self.params, "config": OmegaConf.to_container(self.cfg, resolve=True),
            "vocab": self.task.vocab.to_json(), "metrics": metrics or {}, "state": asdict(self.state),
        }
        save_checkpoint(self.run.checkpoints, self.model, meta, ("last", "best") if best else ("last",))

    def _summary(self, status: str, wall_s: float) -> dict[str, Any]:
        s = self.state
        final = s.last_eval or {}
        return {
            "model": self.cfg.model.name, "task": self.cfg.task.name, "status": status,
            "params": self.params, "steps": s.step, "tokens": s.tokens,
            "best_val_loss": s.best_val_loss, "final_val_loss": final.get("val_loss"),
            "best_val_bpc": s.best_val_bpc, "final_val_bpc": final.get("val_bpc"),
            **{f"final_{k}": v for k, v in final.items() if k not in ("val_loss", "val_bpc")},
            "tokens_per_s": s.tokens / max(s.train_time_s, 1e-9),
            "train_time_s": s.train_time_s, "wall_s": wall_s, "device": str(self.device),
            **self.task.summary(),
        }

    def _final_line(self, summary: dict[str, Any]) -> str:
        val = summary["final_val_loss"]
        val_text = "n/a" if val is None else f"{val:.4f} ({summary['final_val_bpc']:.3f} bpc)"
        return (f"[bold]{summary['status']}[/]: {summary['steps']} steps, val loss {val_text}, "
                f"{summary['tokens_per_s']:,.0f} tok/s, {summary['wall_s']:.1f} s -> {self.run.path}")
