"""The transformer's switches: causal, attn_scale, activation, d_ff, tie_head; the families that
share its blocks refuse the decoder-only ones (rope, rmsnorm, swiglu)."""

import pytest
import torch
from omegaconf import OmegaConf

from seqlab.errors import SeqlabError
from seqlab.models.encoder.config import EncoderConfig
from seqlab.models.encoder.model import build_encoder
from seqlab.models.seq2seq.config import Seq2SeqTransformerConfig
from seqlab.models.seq2seq.model import build_seq2seq_transformer
from seqlab.models.transformer.config import TransformerConfig
from seqlab.models.transformer.model import build_transformer
from tests.conftest import TINY_TRAINER, run_cli

V = 13


def make(seed: int = 0, **overrides) -> torch.nn.Module:
    fields = dict(n_layer=2, n_head=2, n_embd=16, block_size=12) | overrides
    torch.manual_seed(seed)
    model = build_transformer(OmegaConf.structured(TransformerConfig(**fields)), V)
    with torch.no_grad():  # wide weights: the attention is sharp, differences are large
        for p in model.parameters():
            p.normal_(0.0, 0.3)
    return model.eval()


def later_token_changed(x: torch.Tensor, at: int) -> torch.Tensor:
    y = x.clone()
    y[:, at] = (y[:, at] + 1) % V
    return y


@pytest.mark.parametrize("attention", ["sdpa", "manual"])
def test_bidirectional_sees_the_future_and_causal_never_does(attention):
    x = torch.randint(0, V, (2, 12), generator=torch.Generator().manual_seed(1))
    y = later_token_changed(x, at=9)
    causal, bidi = make(attention=attention), make(attention=attention, causal=False)
    assert torch.equal(causal(x)[0][:, :9], causal(y)[0][:, :9])  # positions before 9: untouched
    assert (bidi(x)[0][:, :9] - bidi(y)[0][:, :9]).abs().amax() > 1e-3  # every earlier one moves


def test_sdpa_and_manual_agree_without_the_mask_and_without_the_scale():
    x = torch.randint(0, V, (2, 12), generator=torch.Generator().manual_seed(2))
    for switches in ({"causal": False}, {"attn_scale": False}):
        sdpa, manual = make(attention="sdpa", **switches), make(attention="manual", **switches)
        torch.testing.assert_close(manual(x)[0], sdpa(x)[0], atol=1e-5, rtol=0)


def test_attn_scale_false_changes_the_logits():
    x = torch.randint(0, V, (2, 12), generator=torch.Generator().manual_seed(3))
    scaled, unscaled = make(), make(attn_scale=False)
    assert unscaled.state_dict().keys() == scaled.state_dict().keys()
    assert (scaled(x)[0] - unscaled(x)[0]).abs().amax() > 1e-3


def test_activation_d_ff_and_untied_head():
    default = make()
    relu = make(activation="relu", d_ff=24, tie_head=False)
    assert isinstance(relu.blocks[0].mlp.act, torch.nn.ReLU)
    assert relu.blocks[0].mlp.c_fc.out_features == 24 and default.blocks[0].mlp.c_fc.out_features == 64
    assert relu.lm_head.weight is not relu.token_embedding.weight
    assert default.lm_head.weight is default.token_embedding.weight
    params = sum(p.numel() for p in relu.parameters())
    expected = sum(p.numel() for p in default.parameters()) - 2 * (2 * 16 * 40 + 40) + V * 16
    assert params == expected  # per layer: fc and proj lose 40 x 16 weights, fc 40 biases; + a V x C head


def test_encoder_decoder_takes_the_switches():
    cfg = OmegaConf.structured(Seq2SeqTransformerConfig(n_layer=1, attn_scale=False, tie_head=False,
                                                        activation="relu", causal=False))
    model = build_seq2seq_transformer(cfg, V)
    assert model.lm_head.weight is not model.token_embedding.weight
    assert model.encoder[0].attn.scale == 1.0 and not model.decoder[0].attn.causal


@pytest.mark.parametrize("key,value", [("activation", "tanh"), ("activation", "swish"), ("d_ff", 0),
                                       ("pos_encoding", "foo"), ("norm_layer", "layer")])
def test_bad_switch_values_name_the_key(key, value):
    with pytest.raises(SeqlabError, match=f"model.{key}"):
        make(**{key: value})


@pytest.mark.parametrize("key,value", [("pos_encoding", "rope"), ("norm_layer", "rmsnorm"), ("activation", "swiglu")])
@pytest.mark.parametrize("schema,build", [(EncoderConfig, build_encoder),
                                          (Seq2SeqTransformerConfig, build_seq2seq_transformer)])
def test_decoder_only_switches_are_refused_by_the_families_sharing_the_blocks(key, value, schema, build):
    """The encoder and the encoder-decoder reuse the blocks but not RoPE, RMSNorm or SwiGLU
    (nor do their FLOP models count them): one line naming the key, not a silent fallback."""
    make(**{key: value})  # the decoder-only transformer takes it
    with pytest.raises(SeqlabError, match=f"model.{key} must be one of .*; got '{value}' "
                                          r"\(the decoder-only transformer's"):
        build(OmegaConf.structured(schema(n_layer=1, **{key: value})), V)


def test_non_causal_language_model_warns_in_one_line(corpus, tmp_path):
    result = run_cli("train", "model=transformer", f"task.source={corpus}", "model.causal=false",
                     "model.n_embd=16", "model.n_head=2", *TINY_TRAINER, "trainer.max_steps=2",
                     "trainer.eval_every=2", "trainer.num_samples=0", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "model.causal=false" in line]
    assert len(warnings) == 1 and "sees the next character" in warnings[0]


def test_attention_entropy_of_uniform_and_one_hot_rows():
    from seqlab.analysis.attention_entropy import row_entropy, uniform_entropy

    T = 6
    uniform = torch.ones(T, T).tril() / torch.arange(1, T + 1)[:, None]  # causal, uniform over visible keys
    one_hot = torch.eye(T)
    ent = row_entropy([torch.stack([uniform, one_hot])[None]])  # 1 layer, 2 heads
    assert ent.shape == (1, 2)
    assert abs(ent[0, 0].item() - uniform_entropy(T, causal=True)) < 1e-5 and abs(ent[0, 1].item()) < 1e-5
