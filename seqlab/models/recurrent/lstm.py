"""LSTM (Hochreiter & Schmidhuber, 1997): the slide equations written out, and torch.nn.LSTM.

Gate order and parameter names follow torch.nn.LSTM (i, f, g, o), so the scratch and
fused models load each other's weights.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from seqlab.models.recurrent.shell import RecurrentLM, build_recurrent


def lstm_cell(x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor], w_ih: torch.Tensor,
              w_hh: torch.Tensor, b_ih: torch.Tensor | None = None, b_hh: torch.Tensor | None = None):
    """One LSTM step; returns ((h_new, c_new), (i, f, g, o)).

    i = sigma(W_ii x + b_ii + W_hi h + b_hi)        input gate
    f = sigma(W_if x + b_if + W_hf h + b_hf)        forget gate
    g = tanh(W_ig x + b_ig + W_hg h + b_hg)         candidate cell c~
    o = sigma(W_io x + b_io + W_ho h + b_ho)         output gate
    c_new = f * c + i * g;  h_new = o * tanh(c_new)
    """
    h, c = state
    pre = x @ w_ih.T + h @ w_hh.T  # (B, 4H): the four gates' pre-activations side by side
    if b_ih is not None:
        pre = pre + b_ih + b_hh
    i, f, g, o = pre.chunk(4, dim=-1)
    i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
    c_new = f * c + i * g
    h_new = o * torch.tanh(c_new)
    return (h_new, c_new), (i, f, g, o)


def build_lstm(cfg: Any, vocab_size: int) -> RecurrentLM:
    """An LSTM language model from an LSTMConfig."""
    return build_recurrent(cfg, vocab_size, nn.LSTM, lstm_cell, gates=4, cell_state=True)
