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


@dataclass
class RNNConfig(ModelConfig):
    """Elman RNN language model: h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)."""

    name: str = "rnn"
    embed_size: int = 64
    """Width of the character embedding fed to the first layer."""
    hidden_size: int = 256
    """Width of the hidden state of every layer."""
    num_layers: int = 1
    """Stacked layers; layer l's input at step t is layer l-1's hidden state at step t."""
    nonlinearity: str = "tanh"
    """`tanh` or `relu`."""
    dropout: float = 0.0
    """Dropout between stacked layers and before the head (training only)."""
    bias: bool = True
    """Use the bias vectors b_ih and b_hh."""
    impl: str = "fused"
    """`fused` (torch.nn.RNN) or `scratch` (the seed equation, stepped in Python)."""


@dataclass
class LSTMConfig(ModelConfig):
    """LSTM language model: input, forget, output gates and a candidate cell."""

    name: str = "lstm"
    embed_size: int = 64
    """Width of the character embedding fed to the first layer."""
    hidden_size: int = 256
    """Width of the hidden and cell state of every layer."""
    num_layers: int = 1
    """Stacked LSTM layers."""
    dropout: float = 0.0
    """Dropout between stacked layers and before the head (training only)."""
    bias: bool = True
    """Use the bias vectors b_ih and b_hh."""
    impl: str = "fused"
    """`fused` (torch.nn.LSTM) or `scratch` (the slide equations, stepped in Python)."""


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
