"""Schemas of the minGRU and minLSTM language models."""

from dataclasses import dataclass

from seqlab.models.spec import ModelConfig


@dataclass
class MinRNNConfig(ModelConfig):
    """Fields of the minGRU/minLSTM language models: embedding -> layers -> tied head."""

    n_embd: int = 128
    """Residual stream width (d_model), also the embedding width."""
    n_layer: int = 2
    """Layers, each a recurrent sub-block and (with `mlp`) an MLP sub-block."""
    expand: int = 2
    """The recurrence's hidden width is expand * n_embd; a Linear maps it back to n_embd."""
    mlp: bool = True
    """Add a pre-norm GELU MLP (4x wide) with its own residual after each recurrent sub-block."""
    dropout: float = 0.0
    """Dropout on the embeddings and on every residual branch (training only)."""
    scan: str = "parallel"
    """`parallel` (one matmul for all gates, then a chunked scan) or `sequential` (token by token)."""
    norm: str = "rmsnorm"
    """The pre-norm of every sub-block and the final norm: `rmsnorm` or `layernorm`."""
    d_conv: int = 4
    """Kernel of the causal depthwise conv before the recurrence; 0 leaves it out."""


@dataclass
class MinGRUConfig(MinRNNConfig):
    """minGRU: h_t = (1 - z_t) h_{t-1} + z_t h~_t, both from x_t alone."""

    name: str = "mingru"


@dataclass
class MinLSTMConfig(MinRNNConfig):
    """minLSTM: h_t = f'_t h_{t-1} + i'_t h~_t with normalised forget and input gates."""

    name: str = "minlstm"
