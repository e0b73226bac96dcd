"""Encoder-decoders: attention is a distribution over real source positions; decoding; sampling."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf

from seqlab.errors import SeqlabError
from seqlab.models.recurrent.config import GRUConfig
from seqlab.models.seq2seq.config import Seq2SeqRNNConfig, Seq2SeqTransformerConfig
from seqlab.registry import build_model, build_task, model_spec, pair
from seqlab.tasks.config import AssocRecallConfig, CopyConfig, FirstTokenConfig
from seqlab.tasks.seq2seq_task import decoder_input
from seqlab.tasks.synthetic import translate

V = 12
RNN_VARIANTS = [dict(attention=a, cell=c, bidirectional=b) for a, c, b in
                [("bahdanau", "gru", False), ("dot", "lstm", True), ("bahdanau", "rnn", True),
                 ("dot", "gru", False), ("none", "lstm", True)]]


def rnn(**kw):
    return build_model(OmegaConf.structured(Seq2SeqRNNConfig(embed_size=8, hidden_size=16, attn_size=8, **kw)), V)


def transformer(**kw):
    cfg = Seq2SeqTransformerConfig(n_layer=2, n_head=2, n_embd=16, block_size=16, **kw)
    return build_model(OmegaConf.structured(cfg), V)


def padded_pair():
    """Two sources, the second one padded after 3 tokens (pad ids are arbitrary junk)."""
    torch.manual_seed(0)
    src = torch.randint(0, V, (2, 6))
    mask = torch.ones(2, 6, dtype=torch.bool)
    mask[1, 3:] = False
    return src, mask, torch.randint(0, V, (2, 5))


MODELS = [lambda kw=kw: rnn(**kw) for kw in RNN_VARIANTS] + [
    lambda: transformer(), lambda: transformer(attention="manual", pos_encoding="learned", norm="post")]


@pytest.mark.parametrize("make", MODELS)
def test_attention_sums_to_one_over_real_source_positions(make):
    model = make().eval()
    src, mask, dec = padded_pair()
    logits, att = model(src, dec, mask, need_weights=True)
    assert logits.shape == (2, 5, V)
    if att is None:  # attention=none: the fixed-context bottleneck has no weights
        return
    assert att.shape == (2, 5, 6)
    torch.testing.assert_close(att.sum(-1), torch.ones(2, 5))
    assert (att >= 0).all() and (att[1, :, 3:] == 0).all()  # nothing on padding


@pytest.mark.parametrize("make", MODELS)
def test_padding_changes_nothing(make):
    """The padded row decodes exactly as the same source without padding."""
    model = make().eval()
    src, mask, dec = padded_pair()
    with torch.no_grad():
        padded, _ = model(src, dec, mask)
        src[1, 3:] = (src[1, 3:] + 5) % V  # other junk in the padding
        again, _ = model(src, dec, mask)
        alone, _ = model(src[1:, :3], dec[1:])
    torch.testing.assert_close(padded, again)
    torch.testing.assert_close(padded[1], alone[0], atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("make", MODELS)
def test_greedy_matches_teacher_forcing(make):
    """Feeding the greedy output back as decoder input reproduces its argmaxes (and weights)."""
    model = make().eval()
    src, mask, _ = padded_pair()
    ids, att = model.greedy(src, 5, start_id=3, src_mask=mask)
    with torch.no_grad():
        logits, att_tf = model(src, decoder_input(ids, 3), mask, need_weights=True)
    assert torch.equal(logits.argmax(-1), ids)
    if att is not None:
        torch.testing.assert_close(att[:, -1], att_tf[:, -1], atol=1e-5, rtol=1e-4)


def test_rnn_rejects_unknown_choices():
    with pytest.raises(SeqlabError, match="model.attention"):
        rnn(attention="luong")
    with pytest.raises(SeqlabError, match="model.cell"):
        rnn(cell="tcn")


def test_copy_learns_and_alignment_is_drawn(tmp_path):
    """A few hundred steps of Bahdanau GRU on short copies: right answers, and alignment.png."""
    torch.manual_seed(0)
    task = build_task(OmegaConf.structured(CopyConfig(length=5, num_symbols=5, test_size=100)))
    cfg = OmegaConf.structured(Seq2SeqRNNConfig(embed_size=16, hidden_size=32, attn_size=32))
    pair(cfg, task)
    model = build_model(cfg, len(task.vocab))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    g = torch.Generator().manual_seed(0)
    for _ in range(250):
        loss = task.loss(model, task.train_batch(32, g))
        opt.zero_grad()
        loss.backward()
        opt.step()
    metrics = task.evaluate(model, 100, 1, torch.device("cpu"))
    assert metrics["val_seq_acc"] > 0.8, metrics
    task.write_artifacts(model, tmp_path, torch.device("cpu"))
    assert (tmp_path / "alignment.png").read_bytes()[:4] == b"\x89PNG"
    source = "3 1 4 1 0"
    out = translate(model, task.vocab, source, "copy", cfg, model_spec(cfg.name))
    assert len(out.split()) == 5
    with pytest.raises(SeqlabError, match="alphabet"):
        translate(model, task.vocab, "3 1 9", "copy", cfg, model_spec(cfg.name))
    with pytest.raises(SeqlabError, match="--prompt"):
        translate(model, task.vocab, "3 1", "repeat", cfg, model_spec(cfg.name))


def test_translate_decoder_only_and_classify():
    task = build_task(OmegaConf.structured(AssocRecallConfig(length=2, num_symbols=6, test_size=20)))
    cfg = OmegaConf.structured(GRUConfig(embed_size=8, hidden_size=16))
    model = build_model(cfg, len(task.vocab))
    assert len(translate(model, task.vocab, "1 2 3 4 3", "assoc_recall", cfg, model_spec(cfg.name)).split()) == 1
    with pytest.raises(SeqlabError, match="odd"):
        translate(model, task.vocab, "1 2 3 4", "assoc_recall", cfg, model_spec(cfg.name))
    ft = build_task(OmegaConf.structured(FirstTokenConfig(length=8, test_size=20)))
    model = build_model(cfg, len(ft.vocab))
    assert translate(model, ft.vocab, "01101", "first_token", cfg, model_spec(cfg.name)) in ("0", "1", "=")
