"""Schemas of the recurrent language models (conf/model/rnn.yaml, gru.yaml, lstm.yaml)."""


from dataclasses import dataclass

from seqlab.models.spec import ModelConfig


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
