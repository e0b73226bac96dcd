"""Padding never changes a model's outputs at real positions, for every model family.

Decoder-only models (RNN, GRU, LSTM, transformer) read left to right: pads after the real
tokens cannot reach them. The encoder-only model and the encoder-decoders are told where
the real tokens are (pad_mask / src_mask): attention gives pads no weight and the RNN
encoder packs them away.
"""

import pytest
import torch
from omegaconf import OmegaConf

from seqlab.registry import MODELS, build_model

V, PAD = 12, 0
SMALL = {
    "bigram": dict(),
    "rnn": dict(embed_size=8, hidden_size=16, num_layers=2),
    "gru": dict(embed_size=8, hidden_size=16, num_layers=2),
    "lstm": dict(embed_size=8, hidden_size=16, num_layers=2),
    "transformer": dict(n_layer=2, n_head=2, n_embd=16, block_size=16),
    "encoder": dict(n_layer=2, n_head=2, n_embd=16, block_size=16),
    "seq2seq_rnn": dict(embed_size=8, hidden_size=16, attn_size=16, bidirectional=True),
    "seq2seq_transformer": dict(n_layer=1, n_head=2, n_embd=16, block_size=16),
    "mingru": dict(n_embd=8, n_layer=2),
    "minlstm": dict(n_embd=8, n_layer=2),
    "mamba": dict(n_embd=8, n_layer=2, d_state=4, headdim=4, chunk_size=4),
}


def build(name: str, **extra) -> torch.nn.Module:
    torch.manual_seed(0)
    cfg = OmegaConf.merge(OmegaConf.structured(MODELS[name].config), SMALL[name] | extra)
    return build_model(cfg, V).eval()


def real_and_padded(lengths=(5, 9), total=12) -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(3)
    rows = [torch.randint(1, V, (n,), generator=g) for n in lengths]
    padded = torch.full((len(rows), total), PAD)
    for i, row in enumerate(rows):
        padded[i, : len(row)] = row
    mask = torch.arange(total)[None] < torch.tensor(lengths)[:, None]
    return rows, padded, mask


def test_every_family_is_covered():
    assert set(SMALL) == set(MODELS)


ONE_IMPL = ("bigram", "transformer")  # families with one implementation


@pytest.mark.parametrize("name", ["bigram", "rnn", "gru", "lstm", "transformer"])
@pytest.mark.parametrize("impl", ["fused", "scratch"])
def test_decoder_only_outputs_ignore_trailing_padding(name, impl):
    if name in ONE_IMPL and impl == "scratch":
        pytest.skip(f"the {name} has one implementation")
    model = build(name, **({} if name in ONE_IMPL else {"impl": impl}))
    rows, padded, _ = real_and_padded()
    out = model(padded)[0]
    for i, row in enumerate(rows):
        torch.testing.assert_close(out[i, : len(row)], model(row[None])[0][0], atol=1e-5, rtol=0)


def test_encoder_outputs_and_pooled_class_ignore_masked_padding():
    model = build("encoder")
    rows, padded, mask = real_and_padded()
    out, classes = model(padded, pad_mask=mask)[0], model.classify(padded, mask)
    for i, row in enumerate(rows):
        torch.testing.assert_close(out[i, : len(row)], model(row[None])[0][0], atol=1e-5, rtol=0)
        torch.testing.assert_close(classes[i], model.classify(row[None])[0], atol=1e-5, rtol=0)
    assert (model(padded)[0][0, :5] - out[0, :5]).abs().amax() > 1e-4  # without the mask, pads are seen


@pytest.mark.parametrize("name,extra", [("seq2seq_rnn", {"attention": "none"}), ("seq2seq_rnn", {"attention": "bahdanau"}),
                                        ("seq2seq_rnn", {"attention": "dot"}), ("seq2seq_transformer", {})])
def test_encoder_decoders_ignore_masked_source_padding(name, extra):
    model = build(name, **extra)
    rows, padded, mask = real_and_padded()
    dec_in = torch.randint(1, V, (2, 4), generator=torch.Generator().manual_seed(4))
    out = model(padded, dec_in, mask)[0]
    for i, row in enumerate(rows):
        torch.testing.assert_close(out[i], model(row[None], dec_in[i:i + 1])[0][0], atol=1e-5, rtol=0)
