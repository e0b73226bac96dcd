"""The training loop: build task and model from the config, step, and let callbacks do the rest.

`Trainer.fit` is a short loop over `StepResult`s. Everything that happens at a cadence or
for a reader (metrics records, evaluation, checkpoints, samples, pictures, FLOP/MFU
accounting, the progress line, trackers) is a callback in seqlab/engine/callbacks/, called
in order; rank-0-only callbacks exist only in the process that writes the run folder.
The Trainer keeps what every callback shares: model, task, optimiser, `TrainState`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf

from seqlab.config.validate import validate_config
from seqlab.engine.callbacks import Callback, CallbackList, default_callbacks
from seqlab.engine.checkpoint import load_weights, resolve_checkpoint, save_checkpoint
from seqlab.engine.device import resolve_device, seed_everything
from seqlab.engine.optim import lr_at, make_optimizer
from seqlab.engine.precision import check_precision
from seqlab.engine.progress import TrainProgress
from seqlab.engine.rundir import RunDir
from seqlab.engine.signals import GracefulStop
from seqlab.engine.step import StepResult, train_step
from seqlab.engine.train_state import TrainState, load_train_state, save_train_state
from seqlab.registry import build_task, pair


class TrainingStopped(Exception):
    """Raised after a signal stopped the run cleanly; carries the exit code (130 / 143)."""

    def __init__(self, exit_code: int) -> None:
        super().__init__(exit_code)
        self.exit_code = exit_code


class Trainer:
    """Owns one run: its model, task, optimiser, state, run folder and callbacks."""

    def __init__(self, cfg: Any, run_dir: Path, rank: int = 0, world_size: int = 1,
                 callbacks: Iterable[Callback] | None = None) -> None:
        validate_config(cfg)
        self.cfg, self.tcfg = cfg, cfg.trainer
        self.rank, self.world_size, self.is_main = rank, world_size, rank == 0
        self.device = resolve_device(cfg.device)
        check_precision(cfg.trainer.precision, self.device)
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        seed_everything(cfg.seed)
        self.run = RunDir(run_dir, enabled=self.is_main)
        # Checked before any data is loaded: a bad resume target fails at once.
        resume_from = resolve_checkpoint(Path(self.tcfg.resume), "last") if self.tcfg.resume else None
        self.task = build_task(cfg.task)
        self.spec = pair(cfg.model, self.task)  # before any weights exist
        self.model = self.spec.build(cfg.model, len(self.task.vocab)).to(self.device)
        self.params = sum(p.numel() for p in self.model.parameters())
        self.optimizer = make_optimizer(self.model, self.tcfg)
        # Batches come from their own generator: the data order does not depend on init.
        self.data_rng = torch.Generator().manual_seed(cfg.seed + rank)
        self.state = TrainState()
        self.records: list[dict[str, Any]] = []
        self.status, self.eval_improved = "running", False
        self.progress = TrainProgress(self.tcfg.max_steps, enabled=self.is_main)
        self.callbacks = CallbackList(default_callbacks() if callbacks is None else callbacks, self.is_main)
        if resume_from is not None:
            self._resume(resume_from)
        self._loss_sum = torch.tensor(self.state.loss_sum, device=self.device)  # on device: no sync per step
        self.run.write_config(OmegaConf.to_yaml(cfg, resolve=True))

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
        try:
            self.callbacks.fire("on_fit_start", self)
            started, wall_before = time.perf_counter(), s.wall_s
            with GracefulStop() as stop:
                while s.step < t.max_steps and self.status == "running":
                    result = self.step()
                    s.wall_s = wall_before + time.perf_counter() - started
                    if self.status != "running":  # diverged: nothing of this step is logged
                        break
                    self.callbacks.fire("on_step_end", self, result)
                    if result.record is not None:
                        self.records.append(result.record)
                        self.callbacks.fire("on_log", self, result.record)
                    if stop.signum is not None:
                        self.status = "interrupted"
            if self.status == "running":
                self.status = "completed"
            self.callbacks.fire("on_train_end", self, self.status)
            summary = self.summary()
            self.run.write_summary(summary)
            self.callbacks.fire("on_fit_end", self, summary)
        finally:
            self.callbacks.close(self)
        if self.status == "interrupted":
            raise TrainingStopped(stop.exit_code)
        return summary

    def step(self) -> StepResult:
        """One optimiser step at the scheduled learning rate, with the counters it moves."""
        t, s = self.tcfg, self.state
        started = time.perf_counter()
        for group in self.optimizer.param_groups:
            group["lr"] = lr_at(s.step, t)
        batch = self.task.train_batch(t.batch_size, self.data_rng).to(self.device)
        loss, grad_norm, applied = train_step(self.model, self.task, batch, self.optimizer, t.grad_clip,
                                           t.precision)
        s.step += 1
        s.tokens += batch.num_tokens
        s.train_time_s += time.perf_counter() - started
        if applied:
            self._loss_sum += loss
            s.loss_count += 1
        else:
            s.skipped_steps += 1
            self.print(f"[yellow]step {s.step}: non-finite loss or gradient, step skipped")
            if s.skipped_steps > t.max_skipped_steps:
                self.status = "diverged"
        evaluate = s.step % t.eval_every == 0 or s.step == t.max_steps
        return StepResult(s.step, loss, grad_norm, applied, batch.num_tokens,
                          log=evaluate or s.step % t.log_every == 0, evaluate=evaluate)

    def take_train_loss(self) -> float:
        """Mean training loss of the applied steps since the last call (reads the device once)."""
        mean = self._loss_sum.item() / max(self.state.loss_count, 1)
        self._loss_sum.zero_()
        self.state.loss_count = 0
        return mean

    def save_checkpoint(self, best: bool, metrics: dict[str, float] | None = None) -> None:
        """checkpoint/step_N/ with the weights, optimiser, RNG streams and counters."""
        self.state.loss_sum = float(self._loss_sum)
        meta = {
            "step": self.state.step, "model": self.cfg.model.name, "task": self.cfg.task.name,
            "params": self.params, "config": OmegaConf.to_container(self.cfg, resolve=True),
            "vocab": self.task.vocab.to_json(), "metrics": metrics or {},
        }
        save_checkpoint(self.run.checkpoints, self.model, meta, ("last", "best") if best else ("last",),
                        self.tcfg.keep_last,
                        lambda folder: save_train_state(folder, self.state, self.optimizer, self.data_rng))

    def summary(self) -> dict[str, Any]:
        """summary.json: the run's final numbers (callbacks add theirs, e.g. flops and MFU)."""
        s = self.state
        final = s.last_eval or {}
        summary = {
            "model": self.cfg.model.name, "task": self.cfg.task.name, "status": self.status,
            "params": self.params, "steps": s.step, "tokens": s.tokens,
            "best_val_loss": s.best_val_loss, "final_val_loss": final.get("val_loss"),
            "best_val_bpc": s.best_val_bpc, "final_val_bpc": final.get("val_bpc"),
            **{f"final_{k}": v for k, v in final.items() if k not in ("val_loss", "val_bpc")},
            "tokens_per_s": s.tokens / max(s.train_time_s, 1e-9), "flops": None, "mfu": None,
            "train_time_s": s.train_time_s, "wall_s": s.wall_s, "device": str(self.device),
            "skipped_steps": s.skipped_steps, **self.task.summary(),
        }
        self.callbacks.fire("on_summary", self, summary)
        return summary

    def print(self, message: str) -> None:
        """One line on the run's console (rank 0 only)."""
        self.progress.print(message)
