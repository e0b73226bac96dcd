"""The classic recurrent language models: Elman RNN, GRU and LSTM.

shell.py: the LM around a recurrent core (embed -> core -> head) and the scratch core that
steps a cell in Python; rnn.py, gru.py, lstm.py: each cell's equations; config.py: their
schemas; flops.py: their analytic FLOP model.
"""

from seqlab.models.recurrent.config import GRUConfig, LSTMConfig, RNNConfig
from seqlab.models.spec import FlopModel, ModelSpec

_RECURRENT = dict(recurrent=True, explicit_impl=(("impl", "scratch"),))


def _flops(family: str) -> FlopModel:
    return FlopModel(f"seqlab.models.recurrent.flops:{family}_flops", ("embed_size", "hidden_size"), "num_layers")


SPECS = {
    "gru": ModelSpec(
        GRUConfig, "seqlab.models.recurrent.gru:build_gru",
        "GRU language model (Cho et al. 2014); impl=fused (nn.GRU) or scratch (seed equations)",
        flops=_flops("gru"), **_RECURRENT),
    "rnn": ModelSpec(
        RNNConfig, "seqlab.models.recurrent.rnn:build_rnn",
        "Elman RNN language model, tanh or relu, any depth; impl=fused (nn.RNN) or scratch",
        flops=_flops("rnn"), **_RECURRENT),
    "lstm": ModelSpec(
        LSTMConfig, "seqlab.models.recurrent.lstm:build_lstm",
        "LSTM language model (Hochreiter & Schmidhuber 1997); impl=fused (nn.LSTM) or scratch",
        flops=_flops("lstm"), **_RECURRENT),
}
