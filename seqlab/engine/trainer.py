"""The training loop: build task and model from the config, then step, record, evaluate,
checkpoint, in that order, in `Trainer.fit`'s code.

After each optimiser step (`step`): on a log step the metrics record (training loss since the
last one, throughput, FLOPs and MFU), the evaluation joined to it on an evaluation step, the
record appended to metrics.jsonl, then the step's checkpoint (never one without its record),
then the callbacks that observe the run (seqlab/engine/callbacks/: the progress line, samples,
pictures, trackers); rank-0-only callbacks exist only in the process that writes the run folder.

Under DistributedDataParallel (`dist` with world_size > 1) every rank runs this same loop on
its own batches; `model` stays the plain module (evaluation, samples, checkpoints) and
`train_model` is its DDP wrapper (training forward passes only). The ranks agree each step on
whether to stop, average the logged loss, and count tokens over all of them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf

from seqlab.config.validate import validate_config
from seqlab.engine.callbacks import Callback, CallbackList, config_callbacks, default_callbacks
from seqlab.engine.callbacks.progress import TrainProgress
from seqlab.engine.device import peak_memory, resolve_device, seed_everything, synchronize
from seqlab.engine.distributed import SINGLE, DistContext, all_agree, gather_to_main, sum_over_ranks
from seqlab.engine.flop_meter import FlopMeter, steps_for_budget
from seqlab.engine.optim import lr_at, make_optimizer
from seqlab.engine.precision import autocast, check_precision, grad_scaler
from seqlab.engine.signals import GracefulStop
from seqlab.engine.step import StepResult, train_step
from seqlab.errors import SeqlabError
from seqlab.registry import build_task, pair
from seqlab.runs import CHECKPOINTS, LAST
from seqlab.runs.checkpoint import load_weights, resolve_checkpoint, save_checkpoint
from seqlab.runs.init_from import init_from
from seqlab.runs.rank_state import own_rank_state, restore_rank_state, write_rank_states
from seqlab.runs.train_state import TrainState, load_train_state, resume_fix, save_train_state
from seqlab.runs.writer import RunDir


class TrainingStopped(Exception):
    """Raised after a signal stopped the run cleanly; carries the exit code (130 / 143)."""

    def __init__(self, exit_code: int) -> None:
        super().__init__(exit_code)
        self.exit_code = exit_code


class Trainer:
    """Owns one run: its model, task, optimiser, state, run folder and callbacks."""

    def __init__(self, cfg: Any, run_dir: Path, dist: DistContext = SINGLE,
                 callbacks: Iterable[Callback] | None = None, parent_pid: int | None = None) -> None:
        validate_config(cfg)
        self.cfg, self.tcfg = cfg, cfg.trainer
        self.dist, self.is_main, self.parent_pid = dist, dist.is_main, parent_pid
        self.device = resolve_device(cfg.device, dist.local_rank)
        check_precision(cfg.trainer.precision, self.device)
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = bool(self.tcfg.tf32)
        seed_everything(cfg.seed)
        self.run = RunDir(run_dir, enabled=self.is_main)
        # Checked before any data is loaded: a bad resume target fails at once.
        resume_from = self._resume_target(Path(run_dir))
        callbacks = default_callbacks() if callbacks is None else callbacks  # the launcher adds the trackers
        self.task = build_task(cfg.task)
        self.spec = pair(cfg.model, self.task)  # before any weights exist
        self.model = self.spec.build(cfg.model, len(self.task.vocab)).to(self.device)
        self.task.place(self.device)  # e.g. the training tokens onto the GPU when they fit
        self.init_report = (init_from(self.model, self.tcfg.init_from, self.task.vocab, self.device, self.is_main,
                                      partial=bool(self.tcfg.get("init_from_partial")))
                            if self.tcfg.init_from else None)  # fine-tuning: another run's matching tensors
        self.params = sum(p.numel() for p in self.model.parameters())
        if self.tcfg.flops_budget:  # the same compute whatever the model: the steps follow from it
            self.tcfg.max_steps = steps_for_budget(self)
        self.scaler = grad_scaler(self.tcfg.precision, self.device)
        # On a GPU the step's finite check stays on the device until a log step (no sync per step).
        self.defer = self.device.type == "cuda" and self.scaler is None
        self.optimizer = make_optimizer(self.model, self.tcfg, fused=self.device.type == "cuda")
        self._unsettled = 0  # deferred steps whose applied/skipped count is not read yet
        self._applied = torch.zeros((), device=self.device)  # ... and how many of them were applied
        self.train_model = self._wrap(self.model)
        # Batches come from their own generator, one stream per rank: the data order does not
        # depend on init, and no two ranks draw the same windows.
        self.data_rng = torch.Generator().manual_seed(cfg.seed + dist.rank)
        self.state = TrainState()
        self.records: list[dict[str, Any]] = []
        self.status, self.eval_improved = "running", False
        self.stop_reason: str | None = None  # early_stop (trainer.early_stop_patience), pruned (a search's pruner)
        self.evals_since_best = 0  # evaluations in a row without a better val loss
        patience = self.tcfg.get("early_stop_patience")
        if patience is not None and patience < 1:
            raise SeqlabError(f"trainer.early_stop_patience must be at least 1 (or null: off), got {patience}")
        self.progress = TrainProgress(self.tcfg.max_steps, enabled=self.is_main)
        self.callbacks = CallbackList([*callbacks, *config_callbacks(cfg)], self.is_main)
        self.flop_meter = FlopMeter() if self.is_main else None  # rank 0 writes flops.json and records
        config_yaml = OmegaConf.to_yaml(cfg, resolve=True) + self._run_facts()
        if resume_from is not None:
            self._resume(resume_from)
            self.run.write_config(config_yaml)
        else:  # config.yaml before metrics.jsonl: a folder killed in between holds no run and trains afresh
            self.run.write_config(config_yaml)
            self.run.rewrite_metrics([])  # empty from the start: a run stopped before its first log step has one
        self._loss_sum = torch.tensor(self.state.loss_sum, device=self.device)  # on device: no sync per step

    @property
    def global_batch(self) -> int:
        """Sequences per optimiser step over all ranks and micro-batches."""
        return self.tcfg.batch_size * self.dist.world_size * self.tcfg.grad_accum_steps

    def _run_facts(self) -> str:
        """Appended to config.yaml: what the config implies about this run's processes."""
        return f"run:\n  world_size: {self.dist.world_size}\n  global_batch_size: {self.global_batch}\n"

    def _resume_target(self, run_dir: Path) -> Path | None:
        """The step folder to continue from: trainer.resume's, or with `auto` this run folder's
        own last checkpoint when it has one (a requeued job), else none."""
        resume = self.tcfg.resume
        if resume == "auto":
            return resolve_checkpoint(run_dir, "last") if (run_dir / CHECKPOINTS / LAST).exists() else None
        return resolve_checkpoint(Path(resume), "last") if resume else None

    def _wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        """The module training steps run: DDP across ranks, optionally compiled."""
        if self.dist.active:
            from torch.nn.parallel import DistributedDataParallel

            ids = [self.device.index] if self.device.type == "cuda" else None
            model = DistributedDataParallel(model, device_ids=ids)
        return torch.compile(model) if self.tcfg.compile else model

    def _resume(self, folder: Path) -> None:
        """Continue from a step folder: weights, optimiser, RNG streams, counters, metrics."""
        load_weights(self.model, folder, self.device, fix=resume_fix(folder))
        self.state = load_train_state(folder, self.optimizer, self.data_rng)
        restore_rank_state(folder, self.state, self.dist.rank, self.dist.world_size, self.data_rng)
        # Records past the checkpoint belong to steps that will be redone.
        self.records = [r for r in self.run.read_metrics() if r["step"] <= self.state.step]
        if self.is_main:
            self.run.rewrite_metrics(self.records)
        losses = [r["val_loss"] for r in self.records if r.get("val_loss") is not None]
        if losses:  # the early-stop count goes on from the evaluations before the checkpoint
            self.evals_since_best = len(losses) - 1 - losses.index(min(losses))

    def fit(self) -> dict[str, Any]:
        """Train to max_steps; returns (and writes) the summary."""
        # A failed run-folder write (RunWriteError, exit 1) marks summary.json `failed` on its way out.
        with self.run.failing_writes(self.summary):
            summary, exit_code = self._fit()
        if self.status == "interrupted":
            raise TrainingStopped(exit_code)
        return summary

    def _fit(self) -> tuple[dict[str, Any], int]:
        s = self.state
        try:
            if self.flop_meter is not None:
                self.flop_meter.start(self)
            self.callbacks.fire("on_fit_start", self)
            started, wall_before = time.perf_counter(), s.wall_s
            with GracefulStop() as stop:
                while s.step < self.tcfg.max_steps and self.status == "running":
                    result = self.step()
                    s.wall_s = wall_before + time.perf_counter() - started
                    if self.status != "running":  # diverged: nothing of this step is logged
                        break
                    self._record_evaluate_checkpoint(result)
                    if result.evaluate and s.step < self.tcfg.max_steps and self._early_stop():
                        self.stop_reason = "early_stop"
                        break
                    if self._stop_requested(stop.signum is not None):
                        self.status = "interrupted"
            if self.status == "running":
                self.status = "completed"
            if self.status == "interrupted" and s.step % self.tcfg.eval_every:  # not saved by an evaluation
                self.save_checkpoint(best=False)
            self.callbacks.fire("on_train_end", self, self.status)
            summary = self.summary()
            self.run.write_summary(summary)
            self.callbacks.fire("on_fit_end", self, summary)
        finally:
            self.callbacks.close(self)
        # Another rank's signal (or a lost launcher) stops this one too: SIGTERM's code.
        return summary, stop.exit_code if stop.signum is not None else 143

    def _record_evaluate_checkpoint(self, result: StepResult) -> None:
        """A step's bookkeeping, in this order: its metrics record, the evaluation joined to it,
        the record in metrics.jsonl, the step's checkpoint; the observers hear of each (on_step_end,
        on_log, on_eval) once it is done. A resume keeps the records up to its checkpoint, so a
        checkpoint never exists without its record."""
        if result.log:
            result.record = self._train_record(result)
        metrics = self.evaluate() if result.evaluate else None
        if result.record is not None:
            result.record.update(metrics or {})
        self.callbacks.fire("on_step_end", self, result)  # observers see the step with its record
        if result.record is not None:
            self.run.log(result.record)
            self.records.append(result.record)
            self.callbacks.fire("on_log", self, result.record)
        every = self.tcfg.checkpoint_every
        if metrics is not None:
            self.save_checkpoint(best=self.eval_improved, metrics=metrics)
            self.callbacks.fire("on_eval", self, metrics)
        elif every and result.step % every == 0:
            self.save_checkpoint(best=False)

    def _train_record(self, result: StepResult) -> dict[str, Any]:
        """A log step's record: mean training loss since the last record (the one host-device
        sync of the loss), gradient norm, learning rate, tokens, throughput, FLOPs and MFU."""
        s = self.state
        record = {
            "step": s.step, "tokens": s.tokens, "wall_s": round(s.wall_s, 3),
            "lr": self.optimizer.param_groups[0]["lr"], "train_loss": self.take_train_loss(),
            "grad_norm": float(result.grad_norm), "tokens_per_s": s.tokens / max(s.train_time_s, 1e-9),
        }
        if self.flop_meter is not None:
            self.flop_meter.annotate(record, s.tokens)
        return record

    def evaluate(self) -> dict[str, float]:
        """The task's held-out metrics (under the run's precision) and the best-so-far bookkeeping."""
        t, s = self.tcfg, self.state
        with autocast(t.precision, self.device):
            metrics = self.task.evaluate(self.model, t.batch_size, t.eval_batches, self.device)
        s.last_eval = metrics
        self.eval_improved = s.best_val_loss is None or metrics["val_loss"] < s.best_val_loss
        if self.eval_improved:
            s.best_val_loss, s.best_val_bpc = metrics["val_loss"], metrics.get("val_bpc")
        self.evals_since_best = 0 if self.eval_improved else self.evals_since_best + 1
        return metrics

    def _early_stop(self) -> bool:
        """Whether trainer.early_stop_patience evaluations in a row brought no better val loss
        (the ranks decide together)."""
        patience = self.tcfg.get("early_stop_patience")
        return bool(patience) and all_agree(self.evals_since_best >= patience, self.dist)

    def _stop_requested(self, signalled: bool) -> bool:
        """Whether any rank was signalled (or outlived the parent it was started under, which ends with
        the launcher): then every rank stops here."""
        orphaned = self.parent_pid is not None and os.getppid() != self.parent_pid
        return all_agree(signalled or orphaned, self.dist)

    def step(self) -> StepResult:
        """One optimiser step at the scheduled learning rate, with the counters it moves."""
        t, s = self.tcfg, self.state
        started = time.perf_counter()
        for group in self.optimizer.param_groups:
            group["lr"] = lr_at(s.step, t)
        batches = [self.task.train_batch(t.batch_size, self.data_rng).to(self.device)
                   for _ in range(t.grad_accum_steps)]
        loss, grad_norm, applied = train_step(self.train_model, self.task, batches, self.optimizer, t.grad_clip,
                                           t.precision, self.scaler, synced=self.dist.active, defer=self.defer)
        s.step += 1
        step_tokens = sum(b.num_tokens for b in batches) * self.dist.world_size
        s.tokens += step_tokens
        evaluate = s.step % t.eval_every == 0 or s.step == t.max_steps
        log = evaluate or s.step % t.log_every == 0
        if log:
            synchronize(self.device)  # queued GPU work belongs to the training time
        s.train_time_s += time.perf_counter() - started
        if self.defer:
            self._defer(loss, applied, settle=log)
        elif applied:
            self._loss_sum += loss
            s.loss_count += 1
        else:
            self._skipped(1)
        return StepResult(s.step, loss, grad_norm, applied, step_tokens, log=log, evaluate=evaluate)

    def _skipped(self, count: int) -> None:
        s = self.state
        s.skipped_steps += count
        self.print(f"[yellow]step {s.step}: {count} step(s) with a non-finite loss or gradient skipped")
        if s.skipped_steps > self.tcfg.max_skipped_steps:
            self.status = "diverged"

    def _defer(self, loss: torch.Tensor, applied: torch.Tensor, settle: bool) -> None:
        """Account a deferred step on the device; on a log step read how many were applied."""
        self._loss_sum += torch.where(applied, loss, torch.zeros_like(loss))
        self._applied += applied
        self._unsettled += 1
        if settle:
            done = int(self._applied.item())
            self.state.loss_count += done
            if self._unsettled - done:
                self._skipped(self._unsettled - done)
            self._applied, self._unsettled = torch.zeros((), device=self.device), 0

    def take_train_loss(self) -> float:
        """Mean training loss of the applied steps since the last call, over every rank (reads the
        device once)."""
        total, count = sum_over_ranks([self._loss_sum.item(), float(self.state.loss_count)], self.dist)
        mean = total / max(count, 1)
        self._loss_sum.zero_()
        self.state.loss_count = 0
        return mean

    def save_checkpoint(self, best: bool, metrics: dict[str, float] | None = None) -> None:
        """checkpoint/step_N/ with the weights, optimiser, RNG streams (every rank's) and counters.
        Called on every rank (gathering the ranks' RNG states is collective); rank 0 writes."""
        self.state.loss_sum = float(self._loss_sum)
        self.state.world_size = self.dist.world_size
        ranks = gather_to_main(own_rank_state(self.data_rng), self.dist) if self.dist.active else None
        if not self.is_main:
            return
        meta = {
            "step": self.state.step, "model": self.cfg.model.name, "task": self.cfg.task.name,
            "params": self.params, "config": OmegaConf.to_container(self.cfg, resolve=True),
            "vocab": self.task.vocab.to_json(), "metrics": metrics or {},
        }
        save_checkpoint(self.run.checkpoints, self.model, meta, ("last", "best") if best else ("last",),
                        self.tcfg.keep_last,
                        lambda folder: (save_train_state(folder, self.state, self.optimizer, self.data_rng),
                                        write_rank_states(folder, ranks)))

    def summary(self) -> dict[str, Any]:
        """summary.json: the run's final numbers (callbacks add theirs, e.g. flops and MFU)."""
        s = self.state
        final = s.last_eval or {}
        summary = {
            "model": self.cfg.model.name, "task": self.cfg.task.name, "status": self.status,
            "stop_reason": self.stop_reason or ("max_steps" if self.status == "completed" else self.status),
            "params": self.params, "steps": s.step, "tokens": s.tokens,
            "best_val_loss": s.best_val_loss, "final_val_loss": final.get("val_loss"),
            "best_val_bpc": s.best_val_bpc, "final_val_bpc": final.get("val_bpc"),
            **{f"final_{k}": v for k, v in final.items() if k not in ("val_loss", "val_bpc")},
            "tokens_per_s": s.tokens / max(s.train_time_s, 1e-9), "flops": None, "mfu": None,
            "train_time_s": s.train_time_s, "wall_s": s.wall_s, "device": str(self.device),
            "world_size": self.dist.world_size, "global_batch_size": self.global_batch,
            "peak_memory_bytes": peak_memory(self.device),
            "skipped_steps": s.skipped_steps, "init_from": self.init_report, **self.task.summary(),
        }
        if self.flop_meter is not None:
            self.flop_meter.summarize(summary, s.tokens, s.train_time_s)
        self.callbacks.fire("on_summary", self, summary)
        return summary

    def print(self, message: str) -> None:
        """One line on the run's console (rank 0 only)."""
        self.progress.print(message)
