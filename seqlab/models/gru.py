"""GRU (Cho et al., 2014): the seed's cell written out, and torch.nn.GRU.

Gate order and parameter names follow torch.nn.GRU (r, z, n stacked in weight_ih_l{k}
and weight_hh_l{k}), so `ScratchGRU` and `nn.GRU` load each other's weights.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from seqlab.models.recurrent import RecurrentLM


def gru_cell(x: torch.Tensor, h: torch.Tensor, w_ih: torch.Tensor, w_hh: torch.Tensor,
             b_ih: torch.Tensor | None = None, b_hh: torch.Tensor | None = None,
             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """One GRU step; returns (h_new, r, z, n) so the gates can be inspected.

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
    return h_new, r, z, n


class ScratchGRU(nn.Module):
    """A stack of GRU cells stepped over time in Python: the teaching (and checking) path."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, dropout: float = 0.0) -> None:
        super().__init__()
        self.hidden_size, self.num_layers = hidden_size, num_layers
        self.drop = nn.Dropout(dropout)  # between layers, as nn.GRU does
        for layer in range(num_layers):
            width = input_size if layer == 0 else hidden_size
            self.register_parameter(f"weight_ih_l{layer}", nn.Parameter(torch.empty(3 * hidden_size, width)))
            self.register_parameter(f"weight_hh_l{layer}", nn.Parameter(torch.empty(3 * hidden_size, hidden_size)))
            if bias:
                self.register_parameter(f"bias_ih_l{layer}", nn.Parameter(torch.empty(3 * hidden_size)))
                self.register_parameter(f"bias_hh_l{layer}", nn.Parameter(torch.empty(3 * hidden_size)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1 / math.sqrt(self.hidden_size)  # nn.GRU's init
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def layer_params(self, layer: int) -> tuple[torch.Tensor, ...]:
        return tuple(getattr(self, f"{kind}_l{layer}", None)
                     for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))

    def forward(self, x: torch.Tensor, state: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        B, T, _ = x.shape
        if state is None:
            state = x.new_zeros(self.num_layers, B, self.hidden_size)
        finals = []
        for layer in range(self.num_layers):
            params = self.layer_params(layer)
            h, outs = state[layer], []
            for t in range(T):
                h = gru_cell(x[:, t], h, *params)[0]  # (B, H)
                outs.append(h)
            x = torch.stack(outs, dim=1)  # (B, T, H): the next layer's input
            if layer < self.num_layers - 1:
                x = self.drop(x)
            finals.append(h)
        return x, torch.stack(finals)  # (B, T, H), (L, B, H)


def build_gru(cfg: Any, vocab_size: int) -> RecurrentLM:
    """A GRU language model from a GRUConfig."""
    if cfg.impl == "fused":
        core = nn.GRU(cfg.embed_size, cfg.hidden_size, cfg.num_layers, bias=cfg.bias,
                      batch_first=True, dropout=cfg.dropout if cfg.num_layers > 1 else 0.0)
    elif cfg.impl == "scratch":
        core = ScratchGRU(cfg.embed_size, cfg.hidden_size, cfg.num_layers, cfg.bias, cfg.dropout)
    else:
        from seqlab.errors import SeqlabError

        raise SeqlabError(f"model.impl must be 'fused' or 'scratch', got '{cfg.impl}'")
    return RecurrentLM(vocab_size, cfg.embed_size, cfg.hidden_size, core, cfg.dropout)
