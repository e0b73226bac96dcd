"""Schema of conf/model/transformer.yaml and its presets."""


from dataclasses import dataclass

from seqlab.models.spec import ModelConfig


@dataclass
class TransformerConfig(ModelConfig):
    """Decoder-only transformer in the style of nanoGPT."""

    name: str = "transformer"
    n_layer: int = 1
    """Transformer blocks."""
    n_head: int = 4
    """Attention heads per block; must divide n_embd."""
    n_embd: int = 128
    """Residual stream width."""
    block_size: int = 100
    """Longest context; task.seq_len may not exceed it. Generation slides past it."""
    dropout: float = 0.0
    """Dropout on embeddings, attention weights and residual branches (training only)."""
    bias: bool = True
    """Biases in the MLP's Linear layers and in the LayerNorms."""
    attn_bias: bool = False
    """Biases in the attention projections (qkv and output); the seed's model has none."""
    attention: str = "sdpa"
    """`sdpa` (F.scaled_dot_product_attention) or `manual` (explicit masked softmax; can return weights)."""
    pos_encoding: str = "learned"
    """`learned` (a position embedding table), `sinusoidal` (fixed) or `none`."""
    norm: str = "pre"
    """`pre` (LayerNorm before each sublayer, GPT-2) or `post` (Add & Norm, the original transformer)."""
    causal: bool = True
    """Mask later positions in self-attention; false lets every token see the whole context
    (on a language-model task it then sees the answer: allowed, with a warning)."""
    attn_scale: bool = True
    """Scale attention scores by 1/sqrt(head size); false is the tutorial's "forgot to scale" mistake."""
    activation: str = "gelu"
    """The MLP's nonlinearity: `gelu` (GPT-2) or `relu` (the original transformer)."""
    d_ff: int | None = None
    """The MLP's hidden width; None = 4 * n_embd."""
    tie_head: bool = True
    """Share the output head's weight with the token embedding (Press & Wolf 2017)."""
