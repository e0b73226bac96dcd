"""The language-model shell shared by the recurrent families: embed -> core -> head."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class RecurrentLM(nn.Module):
    """Character embedding, a recurrent core over the sequence, a linear vocabulary head.

    The core maps (B, T, E) inputs and a state to (B, T, H) outputs and the new state;
    its fused and scratch implementations share parameter names, so one checkpoint
    loads into either.
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
