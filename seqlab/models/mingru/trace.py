"""The top layer's hidden states of a minGRU/minLSTM LM as tensors of the autograd graph, for
`seqlab gradients` (ModelSpec.trace).

The parallel scan hands autograd one (B, T, H) tensor, so no single h_t is a node of the
graph; the sequential scan steps the same weights token by token, and each step's h_t is.
Gates see only x_t, so dh_t/dh_{t-1} = diag(a_t): what flows back through time is the
product of the a_t (minGRU 1 - z_t, minLSTM f'_t), no matrix.
"""

from __future__ import annotations

import copy

import torch

from seqlab.models.mingru.model import MinRNNLM

Tensor = torch.Tensor


def top_states(model: MinRNNLM, idx: Tensor) -> tuple[Tensor, list[Tensor]]:
    """(logits (B, T, V), [h_1 .. h_T] of the top layer, each (B, H)) on a sequential copy."""
    model = copy.deepcopy(model)  # the caller's model keeps its scan
    for block in model.blocks:
        block.cell.scan = "sequential"
    top, states = model.blocks[-1].cell, []
    step = top.step

    def recording_step(x_t: Tensor, h: Tensor) -> Tensor:
        h = step(x_t, h)  # (B, H)
        states.append(h)
        return h

    top.step = recording_step  # an instance attribute: the class's step is untouched
    logits, _ = model(idx)
    return logits, states
