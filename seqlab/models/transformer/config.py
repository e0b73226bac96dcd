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
    """Biases in the MLP's Linear layers and in the LayerNorms (RMSNorm has none); with
    attn_bias=false too the model has no bias at all (the head never has one)."""
    attn_bias: bool = False
    """Biases in the attention projections (qkv and output); the seed's model has none."""
    attention: str = "sdpa"
    """`sdpa` (F.scaled_dot_product_attention) or `manual` (explicit masked softmax; can return weights)."""
    pos_encoding: str = "learned"
    """`learned` (a position embedding table), `sinusoidal` (fixed), `none`, or `rope` (rotary:
    q and k of each head rotated by their position, base 10000, so scores depend on the offset;
    decoder-only transformer only)."""
    norm: str = "pre"
    """`pre` (a norm before each sublayer, GPT-2) or `post` (Add & Norm, the original transformer)."""
    norm_layer: str = "layernorm"
    """`layernorm` (bias per `bias`) or `rmsnorm` (x / rms(x) * g, no mean, no bias: Llama;
    decoder-only transformer only). `norm` says where the norms sit."""
    causal: bool = True
    """Mask later positions in self-attention; false lets every token see the whole context
    (on a language-model task it then sees the answer: allowed, with a warning)."""
    attn_scale: bool = True
    """Scale attention scores by 1/sqrt(head size); false is the tutorial's "forgot to scale" mistake."""
    activation: str = "gelu"
    """The MLP's nonlinearity: `gelu` (GPT-2), `relu` (the original transformer) or `swiglu`
    (Llama: W2(silu(W1 x) * W3 x), three matmuls; decoder-only transformer only)."""
    d_ff: int | None = None
    """The MLP's hidden width; None = 4 * n_embd. SwiGLU's third matrix costs a third more at
    the same width: Llama uses about 8/3 * n_embd, and conf/model/llama.yaml sets it explicitly."""
    tie_head: bool = True
    """Share the output head's weight with the token embedding (Press & Wolf 2017)."""
