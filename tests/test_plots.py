"""loss.png's smoothing: a debiased EMA starts on the raw curve instead of above it."""

from __future__ import annotations

import math

import pytest

from seqlab.plots.loss import ema, plot_loss_curves


def test_debiased_ema_starts_at_the_first_value_and_keeps_a_constant():
    assert ema([3.0, 3.0, 3.0], 0.9) == pytest.approx([3.0, 3.0, 3.0])
    assert ema([2.5, 1.0], 0.8)[0] == pytest.approx(2.5)


def test_debiased_ema_follows_a_fast_drop_where_the_plain_one_lags():
    # The copy toy's shape: the loss falls from 3 to ~0 in the first steps and stays there.
    losses = [3.0 * math.exp(-s / 3) for s in range(100)]
    smoothed = ema(losses, 0.8)
    plain, avg = [], None
    for v in losses:
        avg = v if avg is None else 0.8 * avg + 0.2 * v
        plain.append(avg)
    # The plain EMA gives the first, highest loss weight 0.8^(n-1); the debiased one less: it
    # sits below the plain one on the way down, closer to the raw curve.
    assert all(d < p for d, p in zip(smoothed[1:10], plain[1:10]))
    assert smoothed[-1] < 0.01
    # Each point is a weighted mean of the values so far: never above the first (largest) value.
    assert max(smoothed) <= losses[0] + 1e-12


def test_ema_without_smoothing_is_the_raw_curve():
    assert ema([1.0, 5.0, 2.0], 0.0) == [1.0, 5.0, 2.0]


def test_loss_png_labels_raw_and_debiased_curves(tmp_path, monkeypatch):
    import seqlab.plots as plotting

    labels = []
    real = plotting.save_figure

    def spy(fig, path, **kw):
        labels.extend(t.get_text() for t in fig.axes[0].get_legend().get_texts())
        labels.append(fig.axes[0].get_ylabel())
        return real(fig, path, **kw)

    monkeypatch.setattr(plotting, "save_figure", spy)
    records = [{"step": s, "train_loss": 2.0 / s} for s in range(1, 30)]
    records[-1].update(val_loss=0.5, val_bpc=0.5 / math.log(2))  # per character: bpc = loss / ln 2
    plot_loss_curves(records, tmp_path / "loss.png")
    assert (tmp_path / "loss.png").read_bytes()[:4] == b"\x89PNG"
    assert "train (raw)" in labels and any("debiased" in t for t in labels) and "validation" in labels
    assert "nats / char" in labels[-1]
