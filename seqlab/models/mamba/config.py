"""Schema of the Mamba-2 language model."""

from dataclasses import dataclass

from seqlab.models.spec import ModelConfig


@dataclass
class MambaConfig(ModelConfig):
    """Mamba-2: embedding -> pre-norm blocks of the selective SSM mixer -> RMSNorm -> tied head."""

    name: str = "mamba"
    n_embd: int = 128
    """Residual stream width (d_model), also the embedding width."""
    n_layer: int = 2
    """Mamba blocks."""
    d_state: int = 16
    """State size N of every head: each head keeps a (headdim, d_state) state."""
    d_conv: int = 4
    """Kernel of the causal depthwise conv on x, B and C."""
    expand: int = 2
    """The mixer's inner width is expand * n_embd."""
    headdim: int = 32
    """Channels per head; must divide expand * n_embd (heads = expand * n_embd / headdim)."""
    chunk_size: int = 64
    """Steps per chunk of the SSD scan (any sequence length works: the last chunk is padded)."""
    dropout: float = 0.0
    """Dropout on the embeddings and on every residual branch (training only)."""
    scan: str = "chunked"
    """`chunked` (SSD: matmuls within chunks, a recurrence across them) or `sequential` (token by token)."""
