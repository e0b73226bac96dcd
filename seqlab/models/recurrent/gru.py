"""GRU (Cho et al., 2014): the seed's cell written out, and torch.nn.GRU.

Gate order and parameter names follow torch.nn.GRU (r, z, n stacked in weight_ih_l{k}
and weight_hh_l{k}), so the scratch and fused models load each other's weights.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from seqlab.models.recurrent.shell import RecurrentLM, build_recurrent


def gru_cell(x: torch.Tensor, h: torch.Tensor, w_ih: torch.Tensor, w_hh: torch.Tensor,
             b_ih: torch.Tensor | None = None, b_hh: torch.Tensor | None = None,
             ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """One GRU step; returns (h_new, (r, z, n)) so the gates can be inspected.

    r = sigma(W_ir x + b_ir + W_hr h + b_hr)        reset gate
    z = sigma(W_iz x + b_iz + W_hz h + b_hz)        update gate
    n = tanh(W_in x + b_in + r * (W_hn h + b_hn))   new content
    h_new = (1 - z) * n + z * h
    """
    W_ir, W_iz, W_in = w_ih.chunk(3, 0)
    W_hr, W_hz, W_hn = w_hh.chunk(3, 0)
    b_ir, b_iz, b_in = b_ih.chunk(3) if b_ih is not None else (0, 0, 0)
    b_hr, b_hz, b_hn = b_hh.chunk(3) if b_hh is not None else (0, 0, 0)
    r = torch.sigmoid(x @ W_ir.T + b_ir + h @ W_hr.T + b_hr)
    z = torch.sigmoid(x @ W_iz.T + b_iz + h @ W_hz.T + b_hz)
    n = torch.tanh(x @ W_in.T + b_in + r * (h @ W_hn.T + b_hn))
    h_new = (1 - z) * n + z * h
    return h_new, (r, z, n)


def build_gru(cfg: Any, vocab_size: int) -> RecurrentLM:
    """A GRU language model from a GRUConfig: impl fused (nn.GRU) or scratch (gru_cell)."""
    return build_recurrent(cfg, vocab_size, nn.GRU, gru_cell, gates=3)
