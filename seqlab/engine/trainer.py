"""The training loop: build task and model from the config, train, evaluate, write the run.

Ready for multi-process training: `rank`/`world_size` are parameters, only rank 0's
RunDir writes, and every per-step quantity lives in `TrainState`.
"""

from __future__ import annotations

import math
import time
import warnings
from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf

from seqlab.config.validate import validate_config
from seqlab.engine.atomic import atomic_write_json
from seqlab.engine.checkpoint import load_weights, resolve_checkpoint, save_checkpoint
from seqlab.engine.device import resolve_device, seed_everything
from seqlab.engine.init_from import init_from
from seqlab.engine.optim import lr_at, make_optimizer
from seqlab.engine.precision import autocast, check_precision, matmul_dtype
from seqlab.engine.progress import TrainProgress
from seqlab.engine.rundir import RunDir
from seqlab.engine.signals import GracefulStop
from seqlab.engine.train_state import TrainState, load_train_state, save_train_state
from seqlab.registry import build_model, build_task, check_pairing
from seqlab.sampling import sample_texts
from seqlab.tasks.base import Batch


class TrainingStopped(Exception):
    """Raised after a signal stopped the run cleanly; carries the exit code (130 / 143)."""

    def __init__(self, exit_code: int) -> None:
        super().__init__(exit_code)
        self.exit_code = exit_code


def train_step(model: torch.nn.Module, task: Any, batch: Batch, optimizer: torch.optim.Optimizer,
               grad_clip: float, precision: str = "fp32") -> tuple[torch.Tensor, torch.Tensor, bool]:
    """One optimiser step: (loss, gradient norm before clipping, whether the step was applied).

    The forward pass runs under `precision` (fp32, or bf16 autocast); the backward pass
    follows it, outside the context as torch.autocast asks. A step whose loss or gradient
    is not finite is not applied, so the weights stay good.
    """
    with autocast(precision, next(model.parameters()).device):
        loss = task.loss(model, batch)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip if grad_clip > 0 else math.inf)
    finite = bool(torch.isfinite(loss)) and bool(torch.isfinite(grad_norm))
    if finite:
        optimizer.step()
    return loss.detach(), grad_norm.detach(), finite


class Trainer:
    """Owns one run: its model, task, optimiser, state and run folder."""

    def __init__(self, cfg: Any, run_dir: Path, rank: int = 0, world_size: int = 1) -> None:
        validate_config(cfg)
        self.cfg, self.tcfg = cfg, cfg.trainer
        self.is_main = rank == 0
        self.device = resolve_device(cfg.device)
        check_precision(cfg.trainer.precision, self.device)
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        seed_everything(cfg.seed)
        self.run = RunDir(run_dir, enabled=self.is_main)
        # Checked before any data is loaded: a bad resume target fails at once.
        resume_from = resolve_checkpoint(Path(self.tcfg.resume), "last") if self.tcfg.resume else None
        self.task = build_task(cfg.task)
        check_pairing(cfg.model.name, self.task, cfg.model)  # before any weights exist
        self.model = build_model(cfg.model, len(self.task.vocab)).to(self.device)
        # issue 16: fine-tuning start; the one call the new engine needs, right after the model is built
        self.init_report = (init_from(self.model, self.tcfg.init_from, self.task.vocab, self.device, self.is_main)
                            if self.tcfg.init_from else None)
        self.params = sum(p.numel() for p in self.model.parameters())
        self.optimizer = make_optimizer(self.model, self.tcfg)
        # Batches come from their own generator: the data order does not depend on init.
        self.data_rng = torch.Generator().manual_seed(cfg.seed + rank)
        self.state = TrainState()
        self.records: list[dict[str, Any]] = []
        self.flops_per_token, self.peak = self._flop_budget()
        if resume_from is not None:
            self._resume(resume_from)
        self.run.write_config(OmegaConf.to_yaml(cfg, resolve=True))

    def _flop_budget(self) -> tuple[float | None, float | None]:
        """Analytic training FLOPs per token (written to flops.json) and the device's peak FLOP/s."""
        from seqlab.analysis.flops import flops_json
        from seqlab.analysis.peak import peak_flops
        from seqlab.errors import SeqlabError

        seq_len = getattr(self.task, "seq_len", None)
        try:
            info = flops_json(self.cfg.model, len(self.task.vocab), seq_len, self.tcfg.batch_size) if seq_len else None
        except SeqlabError:  # a model without a FLOP model (e.g. encoder-decoders): no flops, no MFU
            info = None
        if info is None:
            return None, None
        peak, source = peak_flops(self.device, self.tcfg.peak_flops, matmul_dtype(self.tcfg.precision))
        if self.is_main:
            atomic_write_json(self.run.flops, {**info, "peak_flops": peak, "peak_source": source})
        return info["per_token"]["training"], peak

    def _resume(self, folder: Path) -> None:
        """Continue from a step folder: weights, optimiser, RNG streams, counters, metrics."""
        load_weights(self.model, folder, self.device)
        self.state = load_train_state(folder, self.optimizer, self.data_rng)
        # Records past the checkpoint belong to steps that will be redone.
        self.records = [r for r in self.run.read_metrics() if r["step"] <= self.state.step]
        if self.is_main:
            self.run.rewrite_metrics(self.records)

    def fit(self) -> dict[str, Any]:
        """Train to max_steps; returns (and writes) the summary."""
        t, s = self.tcfg, self.state
        progress = TrainProgress(t.max_steps, enabled=self.is_main)
        resumed = f", resumed at step {s.step}" if s.step else ""
        progress.print(f"[bold]{self.cfg.model.name}[/] on [bold]{self.cfg.task.name}[/]: "
                       f"{self.params:,} parameters, device {self.device}{resumed}, run folder {self.run.path}")
        start, wall_before, status = time.perf_counter(), s.wall_time_s, "running"
        self._loss_sum = torch.tensor(s.loss_sum, device=self.device)  # on device: no sync per step
        with GracefulStop() as stop, progress:
            while s.step < t.max_steps and status == "running":
                step_start = time.perf_counter()
                for group in self.optimizer.param_groups:
                    group["lr"] = lr_at(s.step, t)
                batch = self.task.train_batch(t.batch_size, self.data_rng).to(self.device)
                loss, grad_norm, applied = train_step(self.model, self.task, batch, self.optimizer, t.grad_clip,
                                                   t.precision)
                s.step += 1
                s.tokens += batch.num_tokens
                s.train_time_s += time.perf_counter() - step_start
                s.wall_time_s = wall_before + time.perf_counter() - start
                if applied:
                    self._loss_sum += loss
                    s.loss_count += 1
                else:
                    s.skipped_steps += 1
                    progress.print(f"[yellow]step {s.step}: non-finite loss or gradient, step skipped")
                    if s.skipped_steps > t.max_skipped_steps:
                        status = "diverged"
                        break

                last = s.step == t.max_steps
                evaluating = s.step % t.eval_every == 0 or last
                if s.step % t.log_every == 0 or evaluating:
                    record = self._record(self._loss_sum.item() / max(s.loss_count, 1), grad_norm)
                    self._loss_sum.zero_()
                    s.loss_count = 0
                    if evaluating:
                        record.update(self._evaluate())
                    self.records.append(record)
                    self.run.log(record)
                    progress.update(s.step, record["train_loss"], (s.last_eval or {}).get("val_loss"),
                                    record["tokens_per_s"], record.get("mfu"))
                if not evaluating and t.checkpoint_every and s.step % t.checkpoint_every == 0:
                    self._checkpoint(best=False)
                if stop.signum is not None:
                    status = "interrupted"
        if status == "running":
            status = "completed"
        if status == "interrupted" and s.step % t.eval_every:
            self._checkpoint(best=False)
        summary = self._summary(status)
        self.run.write_summary(summary)
        self.run.plot_losses(self.records)
        progress.print(self._final_line(summary))
        if status == "diverged":
            progress.print(f"[red]diverged at step {s.step}: the last good checkpoint is in {self.run.checkpoints}")
        if status == "interrupted":
            progress.print(f"stopped at step {s.step}; continue with: seqlab resume {self.run.path}")
            raise TrainingStopped(stop.exit_code)
        return summary

    def _record(self, train_loss: float, grad_norm: torch.Tensor) -> dict[str, Any]:
        s = self.state
        record = {
            "step": s.step, "tokens": s.tokens, "elapsed_s": round(s.wall_time_s, 3),
            "lr": self.optimizer.param_groups[0]["lr"], "train_loss": train_loss,
            "grad_norm": float(grad_norm), "tokens_per_s": s.tokens / max(s.train_time_s, 1e-9),
        }
        if self.flops_per_token:  # cumulative training FLOPs: loss can be plotted against compute
            record["flops"] = s.tokens * self.flops_per_token
            record["mfu"] = record["tokens_per_s"] * self.flops_per_token / self.peak
        return record

    def _evaluate(self) -> dict[str, float]:
        """Validation metrics, then checkpoints, samples and pictures, at one step."""
        t, s = self.tcfg, self.state
        with autocast(t.precision, self.device):
            metrics = self.task.evaluate(self.model, t.batch_size, t.eval_batches, self.device)
        s.last_eval = metrics
        improved = s.best_val_loss is None or metrics["val_loss"] < s.best_val_loss
        if improved:
            s.best_val_loss, s.best_val_bpc = metrics["val_loss"], metrics.get("val_bpc")
        if self.is_main:
            self._checkpoint(best=improved, metrics=metrics)  # first: nothing below may cost it
            try:
                if t.num_samples > 0:
                    prompt = None if hasattr(self.task, "examples") else t.sample_prompt
                    self.run.add_samples(s.step, prompt, self._samples())
                if hasattr(self.task, "write_artifacts"):  # task-specific pictures, e.g. alignment.png
                    self.task.write_artifacts(self.model, self.run.path, self.device)
            except Exception as err:  # a sample or a picture is never worth the run
                warnings.warn(f"step {s.step}: could not write samples/artifacts: {err}", stacklevel=2)
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
        self.state.loss_sum = float(self._loss_sum)
        meta = {
            "step": self.state.step, "model": self.cfg.model.name, "task": self.cfg.task.name,
            "params": self.params, "config": OmegaConf.to_container(self.cfg, resolve=True),
            "vocab": self.task.vocab.to_json(), "metrics": metrics or {},
        }
        save_checkpoint(self.run.checkpoints, self.model, meta, ("last", "best") if best else ("last",),
                        self.tcfg.keep_last,
                        lambda folder: save_train_state(folder, self.state, self.optimizer, self.data_rng))

    def _summary(self, status: str) -> dict[str, Any]:
        s = self.state
        final = s.last_eval or {}
        return {
            "model": self.cfg.model.name, "task": self.cfg.task.name, "status": status,
            "params": self.params, "steps": s.step, "tokens": s.tokens,
            "best_val_loss": s.best_val_loss, "final_val_loss": final.get("val_loss"),
            "best_val_bpc": s.best_val_bpc, "final_val_bpc": final.get("val_bpc"),
            **{f"final_{k}": v for k, v in final.items() if k not in ("val_loss", "val_bpc")},
            "tokens_per_s": s.tokens / max(s.train_time_s, 1e-9),
            "flops": s.tokens * self.flops_per_token if self.flops_per_token else None,
            "mfu": (s.tokens * self.flops_per_token / max(s.train_time_s, 1e-9) / self.peak
                    if self.flops_per_token else None),
            "train_time_s": s.train_time_s, "wall_s": s.wall_time_s, "device": str(self.device),
            "skipped_steps": s.skipped_steps, "init_from": self.init_report, **self.task.summary(),
        }

    def _final_line(self, summary: dict[str, Any]) -> str:
        val = summary["final_val_loss"]
        bpc = summary["final_val_bpc"]
        val_text = "n/a" if val is None else f"{val:.4f}" + ("" if bpc is None else f" ({bpc:.3f} bpc)")
        return (f"[bold]{summary['status']}[/]: {summary['steps']} steps, val loss {val_text}, "
                f"{summary['tokens_per_s']:,.0f} tok/s, {summary['wall_s']:.1f} s -> {self.run.path}")
