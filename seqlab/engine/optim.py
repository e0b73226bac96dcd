"""Optimiser and learning-rate schedule from the trainer config.

On a CPU (or MPS) seqlab steps with its own `Adam`: torch's single-tensor Adam/AdamW, the
algorithm torch.optim runs there, written out op for op, so every update is bit-identical
and the state it saves is torch's. torch.optim's optimisers import torch._dynamo on their
first call (about 2 s, a third of a short run's start-up) though nothing here compiles. On
a GPU the fused torch.optim kernel runs instead: one kernel per step, and it reads
`found_inf` on the device.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from seqlab.errors import SeqlabError

KINDS = ("adam", "adamw")


class Adam:
    """Adam (L2 weight decay added to the gradient) or, `decoupled_weight_decay=True`, AdamW
    (weights shrunk by lr·wd before the update); torch.optim.Adam's `param_groups`, `state`,
    `state_dict()` and `load_state_dict()`, so checkpoints move between the two."""

    def __init__(self, params, lr: float, betas: tuple[float, float], weight_decay: float,
                 eps: float = 1e-8, decoupled_weight_decay: bool = False):
        self.defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                         "amsgrad": False, "maximize": False, "foreach": None, "capturable": False,
                         "differentiable": False, "fused": None,
                         "decoupled_weight_decay": decoupled_weight_decay}
        self.param_groups = [{**self.defaults, "params": list(params)}]
        self.state: dict[torch.Tensor, dict[str, torch.Tensor]] = {}

    def zero_grad(self, set_to_none: bool = True) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p.grad = None if set_to_none else p.grad.detach().zero_()

    @torch.no_grad()
    def step(self) -> None:
        """One update of every parameter that has a gradient."""
        for group in self.param_groups:
            lr, (beta1, beta2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad, slots = p.grad, self._slots(p)
                slots["step"] += 1
                if wd != 0:
                    if group["decoupled_weight_decay"]:
                        p.mul_(1 - lr * wd)
                    else:
                        grad = grad.add(p, alpha=wd)
                slots["exp_avg"].lerp_(grad, 1 - beta1)                                   # m_t
                slots["exp_avg_sq"].mul_(beta2).addcmul_(grad, grad, value=1 - beta2)     # v_t
                t = slots["step"].item()
                step_size = lr / (1 - beta1 ** t)
                denom = (slots["exp_avg_sq"].sqrt() / (1 - beta2 ** t) ** 0.5).add_(eps)  # sqrt(v̂_t) + eps
                p.addcdiv_(slots["exp_avg"], denom, value=-step_size)

    def _slots(self, p: torch.Tensor) -> dict[str, torch.Tensor]:
        if p not in self.state:
            self.state[p] = {"step": torch.tensor(0.0, dtype=torch.float32),
                             "exp_avg": torch.zeros_like(p, memory_format=torch.preserve_format),
                             "exp_avg_sq": torch.zeros_like(p, memory_format=torch.preserve_format)}
        return self.state[p]

    def state_dict(self) -> dict[str, Any]:
        """torch.optim's layout: parameters numbered in group order."""
        index: dict[torch.Tensor, int] = {}
        groups = []
        for group in self.param_groups:
            ids = [index.setdefault(p, len(index)) for p in group["params"]]
            groups.append({**{k: v for k, v in group.items() if k != "params"}, "params": ids})
        return {"state": {index[p]: dict(s) for p, s in self.state.items()}, "param_groups": groups}

    def load_state_dict(self, saved: dict[str, Any]) -> None:
        """Hyper-parameters and slots from `saved` (torch.optim's layout), cast to each parameter's
        device and dtype (the step count stays a float32 CPU scalar, as torch keeps it)."""
        params = [p for group in self.param_groups for p in group["params"]]
        sizes = [len(g["params"]) for g in saved["param_groups"]]
        if sizes != [len(g["params"]) for g in self.param_groups]:
            raise ValueError(f"the saved state has parameter groups of sizes {sizes}")
        by_id = dict(zip([i for g in saved["param_groups"] for i in g["params"]], params))
        self.state = {}
        for i, slots in saved["state"].items():
            p = by_id[int(i)]
            for key in ("exp_avg", "exp_avg_sq"):
                if slots[key].shape != p.shape:
                    raise ValueError(f"state '{key}' of a parameter has shape {tuple(slots[key].shape)}, "
                                     f"the parameter {tuple(p.shape)}")
            self.state[p] = {k: (v.to(dtype=torch.float32, device="cpu", copy=True) if k == "step"
                                 else v.to(dtype=p.dtype, device=p.device, copy=True)) for k, v in slots.items()}
        self.param_groups = [{**{k: v for k, v in g.items() if k != "params"}, "params": group["params"]}
                             for g, group in zip(saved["param_groups"], self.param_groups)]


Optimizer = torch.optim.Optimizer | Adam


def make_optimizer(model: torch.nn.Module, cfg: Any, fused: bool = False) -> Optimizer:
    """Adam or AdamW from the trainer config; `fused` (GPUs): torch.optim's one kernel per step,
    which can skip a non-finite step without the host reading the device."""
    if cfg.optimizer not in KINDS:
        raise SeqlabError(f"trainer.optimizer must be one of {', '.join(KINDS)}, got '{cfg.optimizer}'")
    hyper = {"lr": cfg.lr, "betas": (cfg.beta1, cfg.beta2), "weight_decay": cfg.weight_decay}
    if fused:
        kind = torch.optim.AdamW if cfg.optimizer == "adamw" else torch.optim.Adam
        return kind(model.parameters(), fused=True, **hyper)
    return Adam(model.parameters(), decoupled_weight_decay=cfg.optimizer == "adamw", **hyper)


def lr_at(step: int, cfg: Any) -> float:
    """Learning rate for optimiser step `step` (0-based): linear warm-up, then constant or cosine."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    if cfg.lr_schedule == "constant":
        return cfg.lr
    if cfg.lr_schedule == "cosine":
        span = max(1, cfg.max_steps - cfg.warmup_steps)
        progress = min(1.0, (step - cfg.warmup_steps) / span)
        floor = cfg.lr * cfg.min_lr_ratio
        return floor + 0.5 * (cfg.lr - floor) * (1 + math.cos(math.pi * progress))
    raise SeqlabError(f"trainer.lr_schedule must be constant or cosine, got '{cfg.lr_schedule}'")
