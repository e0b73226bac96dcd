"""The encoder-decoders: an RNN pair (optionally with attention, a Bi-RNN encoder) and a
transformer pair.

model.py: both models and greedy decoding; config.py: their schemas; flops_rnn.py and
flops_transformer.py: their analytic FLOP models, counted per (source, decoder input) pair.
"""

from seqlab.models.seq2seq.config import Seq2SeqRNNConfig, Seq2SeqTransformerConfig
from seqlab.models.spec import FlopModel, ModelSpec

SPECS = {
    "seq2seq_rnn": ModelSpec(
        Seq2SeqRNNConfig, "seqlab.models.seq2seq.model:build_seq2seq_rnn",
        "RNN/GRU/LSTM encoder -> decoder, attention=none|bahdanau|dot, optional Bi-RNN encoder",
        serves=("seq2seq",), encoder_decoder=True,
        flops=FlopModel("seqlab.models.seq2seq.flops_rnn:seq2seq_rnn_flops",
                        ("embed_size", "attn_size", "hidden_size"), "num_layers", pairs=True)),
    "seq2seq_transformer": ModelSpec(
        Seq2SeqTransformerConfig, "seqlab.models.seq2seq.model:build_seq2seq_transformer",
        "transformer encoder (bidirectional) + decoder (causal self-attn, cross-attn, MLP)",
        serves=("seq2seq",), encoder_decoder=True, bounded_context=True, explicit_impl=(("attention", "manual"),),
        flops=FlopModel("seqlab.models.seq2seq.flops_transformer:seq2seq_transformer_flops", ("n_embd",),
                        "n_layer", overrides=(("n_head", 1), ("block_size", 10**9), ("pos_encoding", "none")),
                        pairs=True)),
}
