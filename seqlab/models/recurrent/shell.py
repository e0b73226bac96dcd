"""Pieces shared by the recurrent families (Elman RNN, GRU, LSTM).

`RecurrentLM` is the language-model shell: embed -> core -> head. `ScratchRecurrent`
steps a cell function over time and layers with parameters named and laid out exactly
like torch.nn.RNN/GRU/LSTM, so the scratch and fused cores load each other's weights.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from seqlab.errors import SeqlabError

# cell(x, state, w_ih, w_hh, b_ih, b_hh) -> (new state, extras); state is h or (h, c)
Cell = Callable[..., tuple[Any, Any]]


class RecurrentLM(nn.Module):
    """Character embedding, a recurrent core over the sequence, a linear vocabulary head.

    The core maps (B, T, E) inputs and a state to (B, T, H) outputs and the new state.
    """

    def __init__(self, vocab_size: int, embed_size: int, hidden_size: int, core: nn.Module,
                 dropout: float = 0.0) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_size)
        self.core = core
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward(self, idx: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, Any]:
        x = self.embedding(idx)  # (B, T, E)
        out, state = self.core(x, state)  # (B, T, H)
        return self.head(self.drop(out)), state  # (B, T, V)


class ScratchRecurrent(nn.Module):
    """A stack of cells stepped over time in Python: the teaching (and checking) path.

    `gates` is how many H-wide blocks the cell's weights stack (RNN 1, GRU 3, LSTM 4);
    `cell_state` is True for the LSTM, whose state is the pair (h, c).
    """

    def __init__(self, cell: Cell, gates: int, input_size: int, hidden_size: int,
                 num_layers: int = 1, bias: bool = True, dropout: float = 0.0,
                 cell_state: bool = False) -> None:
        super().__init__()
        self.cell, self.cell_state = cell, cell_state
        self.hidden_size, self.num_layers = hidden_size, num_layers
        self.drop = nn.Dropout(dropout)  # between layers, as the fused modules do
        for layer in range(num_layers):
            width = input_size if layer == 0 else hidden_size
            self.register_parameter(f"weight_ih_l{layer}", nn.Parameter(torch.empty(gates * hidden_size, width)))
            self.register_parameter(f"weight_hh_l{layer}", nn.Parameter(torch.empty(gates * hidden_size, hidden_size)))
            if bias:
                self.register_parameter(f"bias_ih_l{layer}", nn.Parameter(torch.empty(gates * hidden_size)))
                self.register_parameter(f"bias_hh_l{layer}", nn.Parameter(torch.empty(gates * hidden_size)))
        bound = 1 / math.sqrt(hidden_size)  # the fused modules' init
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def layer_params(self, layer: int) -> tuple[torch.Tensor | None, ...]:
        return tuple(getattr(self, f"{kind}_l{layer}", None)
                     for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))

    def forward(self, x: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, Any]:
        B, T, _ = x.shape
        if state is None:
            zeros = x.new_zeros(self.num_layers, B, self.hidden_size)
            state = (zeros, zeros) if self.cell_state else zeros
        finals = []
        for layer in range(self.num_layers):
            params = self.layer_params(layer)
            s = (state[0][layer], state[1][layer]) if self.cell_state else state[layer]
            outs = []
            for t in range(T):
                s = self.cell(x[:, t], s, *params)[0]
                outs.append(s[0] if self.cell_state else s)  # (B, H)
            x = torch.stack(outs, dim=1)  # (B, T, H): the next layer's input
            if layer < self.num_layers - 1:
                x = self.drop(x)
            finals.append(s)
        if self.cell_state:
            return x, (torch.stack([h for h, _ in finals]), torch.stack([c for _, c in finals]))
        return x, torch.stack(finals)  # (B, T, H), (L, B, H)


def build_recurrent(cfg: Any, vocab_size: int, fused: type[nn.RNNBase], cell: Cell, gates: int,
                    cell_state: bool = False, **fused_kwargs: Any) -> RecurrentLM:
    """A recurrent LM whose core is `fused` (torch) or a ScratchRecurrent of `cell`."""
    if cfg.impl == "fused":
        core = fused(cfg.embed_size, cfg.hidden_size, cfg.num_layers, bias=cfg.bias, batch_first=True,
                     dropout=cfg.dropout if cfg.num_layers > 1 else 0.0, **fused_kwargs)
    elif cfg.impl == "scratch":
        core = ScratchRecurrent(cell, gates, cfg.embed_size, cfg.hidden_size, cfg.num_layers, cfg.bias,
                                cfg.dropout, cell_state)
    else:
        raise SeqlabError(f"model.impl must be 'fused' or 'scratch', got '{cfg.impl}'")
    return RecurrentLM(vocab_size, cfg.embed_size, cfg.hidden_size, core, cfg.dropout)
