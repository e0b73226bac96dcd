"""The bigram baseline: the next token from the current one alone, a V x V table of logits.

    logits_t = W[x_t]          W in R^{V x V}, one row per current token

The floor every sequence model must beat (what context buys is the gap to it), and the
worked example of docs/extending.md: a family in five files.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class BigramLM(nn.Module):
    """Token -> a row of next-token logits; no state, so generation needs no cache."""

    def __init__(self, vocab_size: int) -> None:
        super().__init__()
        self.logits = nn.Embedding(vocab_size, vocab_size)  # row x_t = logits of x_{t+1}
        nn.init.zeros_(self.logits.weight)  # start from the uniform guess: loss ln V at step 0

    def forward(self, idx: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, None]:
        """(B, T) ids -> ((B, T, V) logits, no state)."""
        return self.logits(idx), None


def build_bigram(cfg: Any, vocab_size: int) -> BigramLM:
    return BigramLM(vocab_size)
