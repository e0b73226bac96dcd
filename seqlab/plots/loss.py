"""Loss curves of one run."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def ema(values: list[float], alpha: float) -> list[float]:
    """Exponential moving average; alpha is the weight of the past (0 = no smoothing)."""
    out, avg = [], None
    for v in values:
        avg = v if avg is None else alpha * avg + (1 - alpha) * v
        out.append(avg)
    return out


def plot_loss_curves(records: list[dict[str, Any]], path: Path, title: str = "") -> None:
    """Train loss (raw, faint, and smoothed) and validation loss against step."""
    import logging

    import matplotlib

    logging.getLogger("matplotlib").setLevel(logging.WARNING)  # no font-cache chatter in train.log
    matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt

    train = [(r["step"], r["train_loss"]) for r in records if r.get("train_loss") is not None]
    val = [(r["step"], r["val_loss"]) for r in records if r.get("val_loss") is not None]
    acc = [(r["step"], r.get("val_acc"), r.get("val_seq_acc")) for r in records if r.get("val_acc") is not None]
    if acc:  # synthetic tasks: accuracy beside the loss
        fig, (ax, ax_acc) = plt.subplots(1, 2, figsize=(11, 4.2), dpi=110)
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
        fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    if train:
        steps, losses = zip(*train)
        ax.plot(steps, losses, color="tab:blue", alpha=0.25, lw=1)
        ax.plot(steps, ema(list(losses), 0.8), color="tab:blue", lw=1.6, label="train (EMA)")
    if val:
        steps, losses = zip(*val)
        ax.plot(steps, losses, "o-", color="tab:orange", lw=1.8, ms=4, label="validation")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy (nats / token)")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    if train or val:
        ax.legend()
    fig.tight_layout()
    tmp = Path(path).with_name(f".{Path(path).name}.tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    tmp.replace(path)
