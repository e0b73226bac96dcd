"""What a model family is and can do, declared once: its `ModelSpec`.

Each family's package (seqlab/models/<family>/) declares its specs in its `__init__.py`
(`SPECS`), naming its config schema (a dataclass, cheap to import) and its builder and FLOP
model as "module:function" strings, imported only when something is built: `seqlab models`
and `seqlab --help` never import torch. Nothing downstream asks a model what it is (no
hasattr, no name comparisons), so wrapping a model (DDP, torch.compile) changes no answer.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from omegaconf import MISSING

TASK_KINDS = ("lm", "classify", "seq2seq")
"""lm: next token over one sequence; classify: one label per sequence; seq2seq: source -> target.
(The encoder-only family serves `mlm`, masked tokens, and `sequence_classify`, a label read
from the whole sequence: kinds a decoder-only model serves only partly.)"""


@dataclass
class ModelConfig:
    """Fields every model family has."""

    name: str = MISSING
    """Registry key of the model family (`seqlab models` lists them)."""


def load(target: str) -> Callable[..., Any]:
    """The object a "module:function" string names, imported on first use."""
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


@dataclass(frozen=True)
class FlopModel:
    """How `seqlab flops`, flops.json, MFU and reproduce's scheduler count a family."""

    report: str
    """"module:function": (model_cfg, vocab_size, seq_len, batch, h0_grad) -> FlopReport."""
    width_fields: tuple[str, ...]
    """Config fields that take the width D when `seqlab flops --plot` compares families."""
    depth_field: str
    """Config field that takes the depth L there."""
    overrides: tuple[tuple[str, Any], ...] = ()
    """Further config values for that comparison (e.g. no position table)."""
    plot_generate: bool = False
    """Plot the generation FLOPs too (they differ from training's shape: the KV cache)."""
    pairs: bool = False
    """Counts (source, decoder input) pairs: its report also takes `target_len`, and the scaling
    plot, which compares one sequence of T tokens across families, leaves it out."""


@dataclass(frozen=True)
class ModelSpec:
    """One model family."""

    config: type
    """Schema of its conf/model/ entries."""
    builder: str
    """"module:function" (model_cfg, vocab_size) -> nn.Module."""
    summary: str
    """One line for `seqlab models`."""
    serves: tuple[str, ...] = TASK_KINDS
    """Task kinds it can serve (a decoder-only model serves all three)."""
    encoder_decoder: bool = False
    """Takes (source, decoder input) pairs and decodes with `greedy`; else one sequence."""
    bounded_context: bool = False
    """Holds at most model.block_size positions."""
    recurrent: bool = False
    """A recurrent LM whose hidden states `seqlab gradients` can follow through time (on its
    scratch cells, or through its `trace`)."""
    trace: str | None = None
    """"module:function" (model, idx (B, T)) -> (logits (B, T, V), [h_1 .. h_T]): the top layer's
    hidden states (B, H) as tensors of the autograd graph, for a recurrent family that is not
    stepped on scratch cells; None: `seqlab gradients` steps its explicit_impl's scratch cells."""
    attention_maps: bool = False
    """Can return its attention weights (`seqlab attention`)."""
    explicit_impl: tuple[tuple[str, Any], ...] = ()
    """Config values selecting the implementation whose every matmul FlopCounterMode sees
    (scratch cells, manual attention); the same weights load into it."""
    flops: FlopModel | None = None
    """Its FLOP model; None: no flops.json, no MFU, and `seqlab flops` says so."""

    def build(self, model_cfg: Any, vocab_size: int) -> Any:
        return load(self.builder)(model_cfg, vocab_size)


