"""Schemas for the `model` config group: one dataclass per model family.

Hydra validates every YAML in conf/model/ against its schema, so a misspelled key or
a value of the wrong type is rejected at compose time, naming the key.
"""

from dataclasses import dataclass

from omegaconf import MISSING


@dataclass
class ModelConfig:
    """Fields every model family has."""

    name: str = MISSING
    """Registry key of the model family (`seqlab models` lists them)."""


@dataclass
class GRUConfig(ModelConfig):
    """Character-level GRU language model: embedding -> stacked GRU -> linear head."""

    name: str = "gru"
    embed_size: int = 64
    """Width of the character embedding fed to the first layer."""
    hidden_size: int = 256
    """Width of the hidden state of every layer."""
    num_layers: int = 1
    """Number of stacked GRU layers (layer l reads layer l-1's hidden state)."""
    dropout: float = 0.0
    """Dropout between stacked layers and before the head (training only)."""
    bias: bool = True
    """Use the bias vectors b_ih and b_hh (the seed's cell had none)."""
    impl: str = "fused"
    """`fused` (torch.nn.GRU, fast) or `scratch` (the seed equations, stepped in Python)."""
