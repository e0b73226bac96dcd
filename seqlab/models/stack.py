"""Pieces shared by the families built as a residual stack of blocks that carry a fixed-size
state (minGRU/minLSTM, Mamba): the causal depthwise convolution before their recurrence, and
the language-model shell around the blocks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

Tensor = torch.Tensor


class CausalConv1d(nn.Module):
    """Depthwise conv over time where y_t sees x_{t-K+1..t}; the last K-1 inputs are its state."""

    def __init__(self, channels: int, kernel: int) -> None:
        super().__init__()
        self.kernel = kernel
        self.conv = nn.Conv1d(channels, channels, kernel, groups=channels)

    def forward(self, x: Tensor, tail: Tensor | None = None) -> tuple[Tensor, Tensor]:
        B, T, C = x.shape
        tail = x.new_zeros(B, self.kernel - 1, C) if tail is None else tail.to(x.dtype)
        u = torch.cat([tail, x], dim=1)  # (B, K-1+T, C)
        y = self.conv(u.transpose(1, 2)).transpose(1, 2)  # (B, T, C)
        return y, u[:, T:].clone()  # the new tail (B, K-1, C), apart from u


class StackLM(nn.Module):
    """Embedding -> blocks, each (x, state) -> (x, state) -> final norm -> a head tied to the
    embedding; the state is one entry per block. The blocks and the norm come from factories,
    called after the embedding is made, so every family's initialisation draws in this order."""

    def __init__(self, vocab_size: int, n_embd: int, dropout: float,
                 blocks: Callable[[], nn.ModuleList], norm: Callable[[], nn.Module]) -> None:
        super().__init__()
        self.wte = nn.Embedding(vocab_size, n_embd)
        nn.init.normal_(self.wte.weight, std=0.02)  # nanoGPT's init; the head shares it
        self.drop = nn.Dropout(dropout)
        self.blocks = blocks()
        self.norm_f = norm()
        self.head = nn.Linear(n_embd, vocab_size, bias=False)
        self.head.weight = self.wte.weight

    def forward(self, idx: Tensor, state: list[Any] | None = None) -> tuple[Tensor, list[Any]]:
        x = self.drop(self.wte(idx))  # (B, T, C)
        state = state if state is not None else [None] * len(self.blocks)
        new_state = []
        for block, s in zip(self.blocks, state):
            x, s = block(x, s)
            new_state.append(s)
        return self.head(self.norm_f(x)), new_state  # (B, T, V)
