"""The nanoGPT-style transformer: attention paths agree, causality, KV cache, checkpoints,
and defaults that the later switches left bit-identical."""

import dataclasses
import hashlib

import pytest
import torch
from omegaconf import OmegaConf

from seqlab.errors import SeqlabError
from seqlab.models.generate import generate
from seqlab.models.transformer.config import TransformerConfig
from seqlab.models.transformer.model import build_transformer, prefer_explicit_attention

V = 11


def make(vocab_size: int = V, seed: int = 0, std: float | None = None, **overrides):
    """A small transformer; `std` re-draws every weight so logits are far apart (no argmax ties)."""
    fields = dict(n_layer=2, n_head=2, n_embd=16, block_size=16) | overrides
    cfg = OmegaConf.structured(TransformerConfig(**fields))
    torch.manual_seed(seed)
    model = build_transformer(cfg, vocab_size)
    if std is not None:
        with torch.no_grad():
            for p in model.parameters():
                p.normal_(0.0, std)
    return model.eval()


def ids(B: int, T: int, seed: int = 1) -> torch.Tensor:
    return torch.randint(0, V, (B, T), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("norm", ["pre", "post"])
@pytest.mark.parametrize("pos", ["learned", "sinusoidal", "none", "rope"])
def test_manual_and_sdpa_agree(norm, pos):
    sdpa = make(norm=norm, pos_encoding=pos, attention="sdpa", std=0.3)
    manual = make(norm=norm, pos_encoding=pos, attention="manual")
    manual.load_state_dict(sdpa.state_dict())
    x = ids(3, 16)
    torch.testing.assert_close(manual(x)[0], sdpa(x)[0], atol=1e-6, rtol=0)


def test_cpu_bf16_autocast_takes_the_explicit_path_and_stays_close():
    model = make(attention="sdpa", std=0.05)
    x = ids(3, 16)
    reference = model(x)[0]
    assert not prefer_explicit_attention(reference)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert prefer_explicit_attention(reference)
        mixed = model(x)[0]
        _, _, weights = model.blocks[0].attn(model.token_embedding(x))
    assert weights is not None  # the explicit path ran: it returns its attention weights
    assert torch.allclose(weights.float().sum(-1), torch.ones(3, model.blocks[0].attn.n_head, 16))
    torch.testing.assert_close(mixed.float(), reference, atol=0.05, rtol=0.02)  # bf16 has 8 mantissa bits


# Recorded from the code before pos_encoding=rope, norm_layer, activation=swiglu existed: the
# default transformer (seed 0, vocab 92) and its logits on a fixed (2, 100) input.
DEFAULT_STATE = [
    ("token_embedding.weight", (92, 128)), ("position_embedding.weight", (100, 128)),
    ("blocks.0.ln_1.weight", (128,)), ("blocks.0.ln_1.bias", (128,)), ("blocks.0.attn.c_attn.weight", (384, 128)),
    ("blocks.0.attn.c_proj.weight", (128, 128)), ("blocks.0.ln_2.weight", (128,)), ("blocks.0.ln_2.bias", (128,)),
    ("blocks.0.mlp.c_fc.weight", (512, 128)), ("blocks.0.mlp.c_fc.bias", (512,)),
    ("blocks.0.mlp.c_proj.weight", (128, 512)), ("blocks.0.mlp.c_proj.bias", (128,)),
    ("ln_f.weight", (128,)), ("ln_f.bias", (128,)), ("lm_head.weight", (92, 128))]
DEFAULT_WEIGHTS_SHA256 = "a00e7d4ed37b19a06385253dfaf62d4f271e477d6cf86b27fa3c2fecb96ab123"
DEFAULT_LOGITS_SHA256 = "7eeaccf1d8e85fb714c08a4cc49586770a02e26a72c172007511c47b5949f308"
DEFAULT_LOGITS_SUMS = (157.7265431646665, 3379.9722295959073)  # sum, sum of |x| (float64)
DEFAULT_LOGITS_LAST = [[0.3710480332374573, -0.06459057331085205, -0.11990082263946533, -0.09277935326099396],
                       [0.0794934406876564, -0.09156212210655212, -0.1715794950723648, -0.4057950973510742]]
RECORDED_ON = ("2.13.0+cpu", "AVX512")  # torch, CPU kernels: where the logits' bits are comparable


def test_defaults_are_bit_identical_to_before_the_switches():
    torch.manual_seed(0)
    model = build_transformer(OmegaConf.structured(TransformerConfig()), 92).eval()
    state = model.state_dict()
    assert [(k, tuple(v.shape)) for k, v in state.items()] == DEFAULT_STATE
    digest = hashlib.sha256()
    for k, v in state.items():
        digest.update(k.encode())
        digest.update(v.numpy().tobytes())
    assert digest.hexdigest() == DEFAULT_WEIGHTS_SHA256  # the same init draws, in the same order
    x = torch.randint(0, 92, (2, 100), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        logits = model(x)[0]
    sums = (logits.double().sum().item(), logits.double().abs().sum().item())
    torch.testing.assert_close(sums, DEFAULT_LOGITS_SUMS, atol=1e-4, rtol=1e-6)
    torch.testing.assert_close(logits[:, -1, :4].tolist(), DEFAULT_LOGITS_LAST, atol=1e-6, rtol=0)
    if (torch.__version__, torch.backends.cpu.get_cpu_capability()) == RECORDED_ON:  # other kernels round differently
        assert hashlib.sha256(logits.numpy().tobytes()).hexdigest() == DEFAULT_LOGITS_SHA256


def test_seed_parameter_count_and_tied_weights():
    model = build_transformer(OmegaConf.structured(TransformerConfig()), 92)
    assert sum(p.numel() for p in model.parameters()) == 222_592  # the seed's number
    assert model.lm_head.weight is model.token_embedding.weight


@pytest.mark.parametrize("attention", ["sdpa", "manual"])
@pytest.mark.parametrize("norm", ["pre", "post"])
def test_causal(attention, norm):
    model = make(attention=attention, norm=norm, std=0.3)
    x = ids(2, 12)
    base = model(x)[0]
    for t in (0, 5, 11):
        y = x.clone()
        y[:, t] = (y[:, t] + 1) % V
        out = model(y)[0]
        torch.testing.assert_close(out[:, :t], base[:, :t], atol=1e-6, rtol=0)
        assert not torch.allclose(out[:, t], base[:, t])


def uncached_greedy(model, prompt: torch.Tensor, n: int):
    """Reference: run the whole context each step; past block_size keep its last half."""
    half = model.block_size // 2
    ctx, steps = prompt, []
    for _ in range(n):
        logits = model(ctx)[0][:, -1]
        token = logits.argmax(-1, keepdim=True)
        steps.append((logits, token))
        ctx = torch.cat([ctx, token], dim=1)
        if ctx.size(1) > model.block_size:
            ctx = ctx[:, -half:]
    return steps


def cached_greedy(model, prompt: torch.Tensor, n: int):
    logits, state = model(prompt)
    steps = []
    for _ in range(n):
        last = logits[:, -1]
        token = last.argmax(-1, keepdim=True)
        steps.append((last, token))
        logits, state = model(token, state)
        assert state.length <= model.block_size
    return steps


@pytest.mark.parametrize("attention", ["sdpa", "manual"])
@pytest.mark.parametrize("pos", ["learned", "sinusoidal", "rope"])
@pytest.mark.parametrize("n_new", [8, 40])  # inside block_size (16), and well past it
def test_kv_cache_matches_uncached(attention, pos, n_new):
    model = make(attention=attention, pos_encoding=pos, std=0.3)
    prompt = ids(2, 5)
    ref, fast = uncached_greedy(model, prompt, n_new), cached_greedy(model, prompt, n_new)
    for i, ((l_ref, t_ref), (l_fast, t_fast)) in enumerate(zip(ref, fast)):
        torch.testing.assert_close(l_fast, l_ref, atol=1e-5, rtol=1e-5, msg=f"step {i}")
        assert torch.equal(t_fast, t_ref), f"step {i}"
    greedy = generate(model, prompt, n_new, temperature=0)
    assert torch.equal(greedy, torch.cat([t for _, t in ref], dim=1))


def test_long_input_and_chunks_follow_the_same_policy():
    """One call on 40 tokens == the same tokens fed in uneven chunks with the cache."""
    model = make(std=0.3)
    x = ids(2, 40)
    whole, _ = model(x)
    parts, state, start = [], None, 0
    for size in (3, 1, 14, 7, 1, 9, 5):
        out, state = model(x[:, start:start + size], state)
        parts.append(out)
        start += size
    torch.testing.assert_close(torch.cat(parts, dim=1), whole, atol=1e-5, rtol=1e-5)
    # and token 20's logits are those of the context the policy gives it: tokens 9..20
    torch.testing.assert_close(whole[:, 20], model(x[:, 9:21])[0][:, -1], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("attention", ["sdpa", "manual"])
def test_attention_maps_are_causal_distributions(attention):
    model = make(attention=attention, std=0.3)
    maps = model.attention_maps(ids(2, 10))
    assert len(maps) == 2
    for att in maps:
        assert att.shape == (2, 2, 10, 10)
        torch.testing.assert_close(att.sum(-1), torch.ones(2, 2, 10))
        assert (att.triu(diagonal=1) == 0).all()
    with pytest.raises(SeqlabError, match="block size"):
        model.attention_maps(ids(1, 17))


@pytest.mark.parametrize("bad, match", [
    (dict(n_embd=10, n_head=4), "multiple of model.n_head"),
    (dict(attention="flash"), "attention"),
    (dict(pos_encoding="alibi"), "pos_encoding"),
    (dict(norm_layer="batchnorm"), "norm_layer"),
    (dict(activation="swish"), "activation"),
    (dict(norm="sandwich"), "norm"),
])
def test_impossible_settings_are_user_errors(bad, match):
    with pytest.raises(SeqlabError, match=match):
        make(**bad)


def save_run(folder, model_cfg: dict):
    from seqlab.data.tokenizers.char import CharVocab
    from seqlab.runs.checkpoint import save_checkpoint

    vocab = CharVocab.from_text("Lily said, hello world.\n")
    torch.manual_seed(3)
    model = build_transformer(OmegaConf.create(model_cfg), len(vocab))
    meta = {"step": 7, "config": {"model": model_cfg}, "vocab": vocab.to_json(), "metrics": {}}
    save_checkpoint(folder / "checkpoint", model, meta)
    (folder / "config.yaml").write_text("model: {}\n")
    return model


SMALL = dataclasses.asdict(TransformerConfig(n_layer=2, n_head=2, n_embd=16, block_size=12))


def test_checkpoint_round_trip_keeps_tied_weights(tmp_path):
    from seqlab.runs.checkpoint import load_checkpoint

    model = save_run(tmp_path, SMALL)
    loaded = load_checkpoint(tmp_path).model
    assert loaded.lm_head.weight is loaded.token_embedding.weight
    for (n1, p1), (n2, p2) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert n1 == n2 and torch.equal(p1, p2), n1
    x = torch.randint(0, loaded.token_embedding.num_embeddings, (1, 8))
    torch.testing.assert_close(loaded(x)[0], model(x)[0])


def test_attention_plot_for_run(tmp_path):
    from seqlab.analysis.attention import attention_for_run

    save_run(tmp_path, SMALL)
    out = attention_for_run(tmp_path, "Lily said,\nh", tmp_path / "att.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(SeqlabError, match="block_size"):
        attention_for_run(tmp_path, "hello world hello", tmp_path / "long.png")


def test_attention_plot_refuses_models_without_attention(tmp_path):
    from seqlab.analysis.attention import attention_for_run
    from seqlab.data.tokenizers.char import CharVocab
    from seqlab.models.recurrent.gru import build_gru
    from seqlab.runs.checkpoint import save_checkpoint

    vocab = CharVocab.from_text("abc")
    gru_cfg = dict(name="gru", embed_size=4, hidden_size=4, num_layers=1, dropout=0.0, bias=True, impl="fused")
    model = build_gru(OmegaConf.create(gru_cfg), len(vocab))
    meta = {"step": 1, "config": {"model": gru_cfg}, "vocab": vocab.to_json(), "metrics": {}}
    save_checkpoint(tmp_path / "checkpoint", model, meta)
    with pytest.raises(SeqlabError, match="model gru has no attention"):
        attention_for_run(tmp_path, "abc", tmp_path / "x.png")
