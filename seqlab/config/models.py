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
class BigramConfig(ModelConfig):
    """The bigram baseline: next-token logits from the current token alone (no other fields)."""

    name: str = "bigram"


@dataclass
class RecurrentConfig(ModelConfig):
    """Fields of the recurrent language models: embedding -> stacked cells -> linear head."""

    embed_size: int = 64
    """Width of the character embedding fed to the first layer."""
    hidden_size: int = 256
    """Width of the hidden (and, for the LSTM, cell) state of every layer."""
    num_layers: int = 1
    """Stacked layers; layer l's input at step t is layer l-1's hidden state at step t."""
    dropout: float = 0.0
    """Dropout between stacked layers and before the head (training only)."""
    bias: bool = True
    """Use the bias vectors b_ih and b_hh (the seed's GRU cell had none)."""
    impl: str = "fused"
    """`fused` (torch.nn.RNN/GRU/LSTM, fast) or `scratch` (the seed's equations, stepped in Python)."""


@dataclass
class GRUConfig(RecurrentConfig):
    """GRU language model (reset, update and new-content gates)."""

    name: str = "gru"


@dataclass
class RNNConfig(RecurrentConfig):
    """Elman RNN language model: h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)."""

    name: str = "rnn"
    nonlinearity: str = "tanh"
    """`tanh` or `relu`."""


@dataclass
class LSTMConfig(RecurrentConfig):
    """LSTM language model: input, forget, output gates and a candidate cell."""

    name: str = "lstm"


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


@dataclass
class Seq2SeqRNNConfig(ModelConfig):
    """RNN encoder -> RNN decoder (Cho et al. 2014), optionally with attention (Bahdanau et al. 2015)."""

    name: str = "seq2seq_rnn"
    cell: str = "gru"
    """`rnn` (tanh), `gru` or `lstm`: the cell of both encoder and decoder."""
    embed_size: int = 64
    """Width of the token embedding (shared by source and target)."""
    hidden_size: int = 128
    """Hidden width of encoder (each direction) and decoder."""
    num_layers: int = 1
    """Stacked layers in the encoder and in the decoder."""
    bidirectional: bool = False
    """Bi-RNN encoder: annotations h_j = [forward; backward] (seed 004)."""
    attention: str = "bahdanau"
    """`none` (fixed context vector), `bahdanau` (additive v.tanh(W s + U h)) or `dot` (s.h)."""
    attn_size: int = 128
    """Width of Bahdanau's scoring network."""
    dropout: float = 0.0
    """Dropout on embeddings, between layers and before the output layer (training only)."""


@dataclass
class Seq2SeqTransformerConfig(TransformerConfig):
    """Transformer encoder-decoder (Vaswani et al. 2017) built from the decoder-only model's parts:
    the same fields, with n_layer blocks in the encoder and as many in the decoder, and
    block_size the longest source and the longest target."""

    name: str = "seq2seq_transformer"
    n_layer: int = 2
    n_embd: int = 64
    block_size: int = 128
    pos_encoding: str = "sinusoidal"


@dataclass
class EncoderConfig(TransformerConfig):
    """Encoder-only transformer (BERT-style): the same fields, bidirectional blocks
    (`causal` is ignored: every token sees the whole sequence), a masked-token head and a
    classification head."""

    name: str = "encoder"
    n_layer: int = 2
    n_embd: int = 128
    block_size: int = 128
    causal: bool = False
    num_classes: int = 2
    """Classes of the sequence-classification head; 0 = no such head (masked-LM pretraining)."""
    pool: str = "mean"
    """What the classification head reads: `mean` (over real positions) or `first` (position 0)."""
