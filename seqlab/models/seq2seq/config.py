"""Schemas of the encoder-decoders (conf/model/seq2seq_rnn.yaml, seq2seq_transformer.yaml)."""


from dataclasses import dataclass

from seqlab.models.spec import ModelConfig
from seqlab.models.transformer.config import TransformerConfig


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
