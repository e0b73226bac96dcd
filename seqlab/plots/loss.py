"""Loss curves of one run (loss.png), and the smoothing every training curve shares."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

LN2 = math.log(2.0)


def scored_per_char(records: list[dict[str, Any]]) -> bool:
    """Whether the records' loss is per character: evaluations that scored as many tokens as
    characters (val_bpc x ln 2 = val_loss; a BPE run's tokens hold several characters)."""
    pairs = [(r["val_loss"], r["val_bpc"]) for r in records
             if isinstance(r.get("val_loss"), int | float) and isinstance(r.get("val_bpc"), int | float)]
    return bool(pairs) and all(abs(b * LN2 - v) <= 1e-6 * max(1.0, abs(v)) for v, b in pairs)


def ema(values: list[float], alpha: float) -> list[float]:
    """Debiased exponential moving average; alpha is the weight of the past (0 = no smoothing).

    A plain EMA started at 0 (or at the first value) lags the start of a falling curve: the
    first losses dominate it for ~1/(1-alpha) points and it sits far above the raw loss. As
    in TensorBoard and Adam, the average starts at 0 and is divided by 1 - alpha^n, the weight
    the n values seen so far carry, so point n is a true weighted mean of values 1..n.
    """
    out, avg = [], 0.0
    for n, v in enumerate(values, start=1):
        avg = alpha * avg + (1 - alpha) * v
        out.append(avg / (1 - alpha ** n) if alpha > 0 else v)
    return out


TRAIN_SMOOTHING = 0.8  # EMA weight of the past for loss.png's training curve


def plot_loss_curves(records: list[dict[str, Any]], path: Path, title: str = "") -> None:
    """Train loss (raw, faint, and smoothed) and validation loss against step."""
    from seqlab.plots import new_figure, save_figure

    train = [(r["step"], r["train_loss"]) for r in records if r.get("train_loss") is not None]
    val = [(r["step"], r["val_loss"]) for r in records if r.get("val_loss") is not None]
    acc = [(r["step"], r.get("val_acc"), r.get("val_seq_acc")) for r in records if r.get("val_acc") is not None]
    if acc:  # synthetic tasks: accuracy beside the loss
        fig, axes = new_figure(1, 2, (11, 4.2))
        ax, ax_acc = axes[0]
        steps, tok, seq = zip(*acc)
        ax_acc.plot(steps, tok, "o-", label="token accuracy")
        if any(v is not None for v in seq):
            ax_acc.plot(steps, [v if v is not None else float("nan") for v in seq], "s-", label="exact sequence")
        ax_acc.set_xlabel("step")
        ax_acc.set_ylabel("held-out accuracy")
        ax_acc.set_ylim(-0.02, 1.02)
        ax_acc.grid(alpha=0.3)
        ax_acc.legend()
    else:
        fig, axes = new_figure(1, 1, (7, 4.2))
        ax = axes[0][0]
    if train:
        steps, losses = zip(*train)
        ax.plot(steps, losses, color="tab:blue", alpha=0.25, lw=1, label="train (raw)")
        ax.plot(steps, ema(list(losses), TRAIN_SMOOTHING), color="tab:blue", lw=1.6,
                label=f"train (EMA {TRAIN_SMOOTHING:g}, debiased)")
    if val:
        steps, losses = zip(*val)
        ax.plot(steps, losses, "o-", color="tab:orange", lw=1.8, ms=4, label="validation")
    ax.set_xlabel("step")
    unit = "char" if scored_per_char(records) else "token"
    ax.set_ylabel(f"cross-entropy (nats / {unit})")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    if train or val:
        ax.legend()
    save_figure(fig, path)
