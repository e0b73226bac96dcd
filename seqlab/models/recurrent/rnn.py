"""Elman RNN: h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), and torch.nn.RNN."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from seqlab.errors import SeqlabError
from seqlab.models.recurrent.shell import RecurrentLM, build_recurrent

ACTIVATIONS = {"tanh": torch.tanh, "relu": torch.relu}


def elman_cell(act):
    """The Elman step for activation `act`, in the Cell signature ScratchRecurrent steps."""

    def cell(x: torch.Tensor, h: torch.Tensor, w_ih: torch.Tensor, w_hh: torch.Tensor,
             b_ih: torch.Tensor | None = None, b_hh: torch.Tensor | None = None):
        pre = x @ w_ih.T + h @ w_hh.T
        if b_ih is not None:
            pre = pre + b_ih + b_hh
        return act(pre), ()

    return cell


def build_rnn(cfg: Any, vocab_size: int) -> RecurrentLM:
    """An Elman RNN language model from an RNNConfig."""
    if cfg.nonlinearity not in ACTIVATIONS:
        raise SeqlabError(f"model.nonlinearity must be tanh or relu, got '{cfg.nonlinearity}'")
    return build_recurrent(cfg, vocab_size, nn.RNN, elman_cell(ACTIVATIONS[cfg.nonlinearity]), gates=1,
                           nonlinearity=cfg.nonlinearity)
