"""The modern recipe as switches of the transformer: RoPE, RMSNorm, SwiGLU, no biases, model=llama."""

import json

import pytest
import torch
import torch.nn.functional as F
from omegaconf import OmegaConf

from seqlab.config.compose import compose
from seqlab.flops import flops_report
from seqlab.flops.measure import measure_report
from seqlab.models.generate import generate
from seqlab.models.transformer.config import TransformerConfig
from seqlab.models.transformer.model import MLP, Rotary, apply_rope, build_transformer, make_norm
from tests.conftest import TINY_TRAINER, run_cli

V = 11


def llama_cfg(**overrides):
    """conf/model/llama.yaml as composed, shrunk by `overrides`."""
    cfg = compose(["model=llama"]).model
    return OmegaConf.merge(cfg, overrides)


def make(std: float = 0.3, seed: int = 0, **overrides):
    """A small llama; wide weights so that logits are far apart (no argmax ties)."""
    torch.manual_seed(seed)
    model = build_transformer(llama_cfg(**(dict(n_layer=2, n_head=2, n_embd=16, d_ff=40, block_size=16)
                                           | overrides)), V)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, std)
    return model.eval()


def ids(B: int, T: int, seed: int = 1) -> torch.Tensor:
    return torch.randint(0, V, (B, T), generator=torch.Generator().manual_seed(seed))


def test_preset_is_the_modern_recipe_at_the_transformer_sizes():
    llama, base = compose(["model=llama"]).model, compose(["model=transformer"]).model
    assert (llama.pos_encoding, llama.norm_layer, llama.activation, llama.bias, llama.attn_bias) == \
        ("rope", "rmsnorm", "swiglu", False, False)
    assert llama.d_ff % 8 == 0 and abs(llama.d_ff - 8 * llama.n_embd / 3) < 8
    assert all(llama[k] == base[k] for k in ("n_layer", "n_head", "n_embd", "block_size", "tie_head"))
    count = [sum(p.numel() for p in build_transformer(c, 92).parameters()) for c in (llama, base)]
    assert count == [209_792, 222_592]  # 6% apart: the position table and the norms' biases


def test_rope_scores_depend_only_on_the_offset():
    rot = Rotary(head_size=8, block_size=64)
    g = torch.Generator().manual_seed(0)
    q, k = torch.randn(1, 1, 1, 8, generator=g), torch.randn(1, 1, 1, 8, generator=g)

    def score(m: int, n: int) -> float:  # q at position m . k at position n
        return (apply_rope(q, rot(m, 1)) * apply_rope(k, rot(n, 1))).sum().item()

    for offset in (0, 1, 5, 30):
        scores = [score(m + offset, m) for m in (0, 3, 17, 33)]
        assert max(scores) - min(scores) < 1e-5, (offset, scores)
    assert abs(score(5, 0) - score(0, 0)) > 1e-3  # ... and the offset matters
    assert abs(score(5, 0) - q.mul(k).sum().item()) > 1e-3
    x = torch.randn(2, 3, 7, 8, generator=g)
    torch.testing.assert_close(apply_rope(x, rot(9, 7)).norm(dim=-1), x.norm(dim=-1))  # a rotation


def test_rope_positions_continue_after_the_cache():
    """Chunks fed through the KV cache == one call on the whole: the chunk after a prefix of c
    tokens is rotated at positions c.., inside block_size and past it (re-prefills)."""
    model = make()
    x = ids(2, 40)
    for sizes in ((5, 1, 7), (5, 1, 7, 14, 2, 11)):  # 13 tokens, and 40 (block_size 16)
        whole, _ = model(x[:, :sum(sizes)])
        parts, state, start = [], None, 0
        for size in sizes:
            out, state = model(x[:, start:start + size], state)
            parts.append(out)
            start += size
        torch.testing.assert_close(torch.cat(parts, dim=1), whole, atol=1e-5, rtol=1e-5)
    at_zero, _ = model(x[:, 5:13])  # the chunk alone sits at positions 0..: its first token sees only itself
    assert (at_zero[:, 0] - model(x[:, :13])[0][:, 5]).abs().amax() > 1e-3


def uncached_greedy(model, prompt: torch.Tensor, n: int):
    """Reference: the whole context each step; past block_size keep its last half."""
    ctx, out = prompt, []
    for _ in range(n):
        logits = model(ctx)[0][:, -1]
        token = logits.argmax(-1, keepdim=True)
        out.append((logits, token))
        ctx = torch.cat([ctx, token], dim=1)
        if ctx.size(1) > model.block_size:
            ctx = ctx[:, -(model.block_size // 2):]
    return out


@pytest.mark.parametrize("attention", ["sdpa", "manual"])
@pytest.mark.parametrize("n_new", [8, 40])  # inside block_size (16), and well past it
def test_kv_cached_generation_matches_recomputation(attention, n_new):
    model = make(attention=attention)
    prompt = ids(2, 5)
    reference = uncached_greedy(model, prompt, n_new)
    logits, state = model(prompt)
    for i, (l_ref, t_ref) in enumerate(reference):
        torch.testing.assert_close(logits[:, -1], l_ref, atol=1e-5, rtol=1e-5, msg=f"step {i}")
        assert torch.equal(logits[:, -1].argmax(-1, keepdim=True), t_ref), f"step {i}"
        logits, state = model(t_ref, state)
        assert state.length <= model.block_size
    ref = torch.cat([t for _, t in reference], dim=1)
    assert torch.equal(generate(model, prompt, n_new, temperature=0), ref)


def test_sdpa_and_manual_agree_with_the_switches():
    sdpa, manual = make(attention="sdpa"), make(attention="manual")
    manual.load_state_dict(sdpa.state_dict())
    x = ids(3, 16)
    torch.testing.assert_close(manual(x)[0], sdpa(x)[0], atol=1e-5, rtol=0)


def test_rmsnorm_equation():
    norm = make_norm(OmegaConf.structured(TransformerConfig(n_embd=16, norm_layer="rmsnorm", bias=True)))
    assert [n for n, _ in norm.named_parameters()] == ["weight"]  # a gain, never a bias
    with torch.no_grad():
        norm.weight.normal_()
    x = torch.randn(3, 5, 16) * 4 + 1
    expected = x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * norm.weight
    torch.testing.assert_close(norm(x), expected)


@pytest.mark.parametrize("bias", [False, True])
def test_swiglu_equation(bias):
    mlp = MLP(OmegaConf.structured(TransformerConfig(n_embd=16, activation="swiglu", d_ff=24, bias=bias)))
    with torch.no_grad():
        for p in mlp.parameters():
            p.normal_()
    W1, W3, W2 = mlp.c_fc, mlp.c_up, mlp.c_proj
    assert W1.weight.shape == W3.weight.shape == (24, 16) and W2.weight.shape == (16, 24)
    x = torch.randn(2, 7, 16)
    expected = W2(F.silu(W1(x)) * W3(x))
    torch.testing.assert_close(mlp(x), expected)
    if not bias:  # the bare matrices: W2 (silu(W1 x) * W3 x)
        torch.testing.assert_close(mlp(x), (F.silu(x @ W1.weight.T) * (x @ W3.weight.T)) @ W2.weight.T)


@pytest.mark.parametrize("cfg", [llama_cfg(), OmegaConf.structured(TransformerConfig(bias=False, n_layer=2)),
                                 llama_cfg(tie_head=False, norm="post", attention="manual")],
                         ids=["llama", "transformer-bias-false", "llama-untied-post"])
def test_bias_false_leaves_no_bias(cfg):
    model = build_transformer(cfg, V)
    assert not [n for n, _ in model.named_parameters() if "bias" in n]
    assert all(getattr(m, "bias", None) is None for m in model.modules())


def test_flops_match_the_counter_for_llama():
    """Totals, per-component forward (1%) and exact parameters, on the manual-attention copy."""
    cfg = llama_cfg(n_layer=2, n_head=2, n_embd=32, d_ff=88, block_size=16, attention="manual")
    V, T, B = 20, 12, 3
    report = measure_report(flops_report(cfg, V, T, B), cfg)
    total = report.total
    for key in ("forward", "training"):
        assert abs(report.measured[key] - getattr(total, key)) <= 0.01 * getattr(total, key)
    for row in report.rows:
        if row.in_total:
            assert abs(row.measured_forward - row.forward) <= 0.01 * max(row.forward, 1), row
    assert total.params == sum(p.numel() for p in build_transformer(cfg, V).parameters())
    rows = {r.key: r for r in report.rows}
    assert rows["mlp"].forward == B * 6 * T * 32 * 88 * 2  # three D×F matmuls per layer
    assert rows["norms"].params == (2 * 2 + 1) * 32 and rows["embedding"].params == V * 32
    assert any("RoPE, RMSNorm, the SwiGLU gate product: elementwise" in note for note in report.notes)


SMALL = ["model=llama", "model.n_embd=32", "model.n_head=2", "model.d_ff=88", "model.block_size=20",
         "task.seq_len=20"]


@pytest.mark.slow
def test_train_and_sample_the_llama_preset(corpus, tmp_path):
    result = run_cli("train", f"task.source={corpus}", *SMALL, *TINY_TRAINER,
                     "trainer.max_steps=6", "trainer.eval_every=3", "trainer.num_samples=0", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    run = next((tmp_path / "outputs").glob("*/*_llama_tinystories"))
    flops = json.loads((run / "flops.json").read_text())
    assert flops["per_step"]["training"] > 0
    sample = run_cli("sample", str(run), "--prompt", "Once", "--max-new-tokens", "30", "--seed", "1", cwd=tmp_path)
    assert sample.returncode == 0, sample.stderr
    assert sample.stdout.startswith("Once") and len(sample.stdout.rstrip("\n")) == len("Once") + 30


@pytest.mark.parametrize("override, words", [
    ("model.pos_encoding=foo", "model.pos_encoding must be one of learned, sinusoidal, none, rope; got 'foo'"),
    ("model.activation=swish", "model.activation must be one of gelu, relu, swiglu; got 'swish'"),
    ("model.norm_layer=batchnorm", "model.norm_layer must be one of layernorm, rmsnorm; got 'batchnorm'"),
    ("model.n_head=32", "head size n_embd / n_head (1) must be even"),
])
def test_bad_values_are_one_line_and_leave_no_folder(corpus, tmp_path, override, words):
    result = run_cli("train", f"task.source={corpus}", *SMALL, *TINY_TRAINER, override, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().startswith("error: ") and words in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not (tmp_path / "outputs").exists() or not any((tmp_path / "outputs").rglob("*"))
