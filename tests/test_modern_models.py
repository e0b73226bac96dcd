"""minGRU, minLSTM and Mamba-2: the parallel scans against the sequential recurrences, cached
generation against recomputation, causality, and long sequences with saturated gates."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from seqlab.errors import SeqlabError
from seqlab.models.mamba.config import MambaConfig
from seqlab.models.mamba.model import Mamba2Mixer, build_mamba
from seqlab.models.mingru.config import MinGRUConfig, MinLSTMConfig
from seqlab.models.mingru.model import MinGRU, MinLSTM, build_mingru, build_minlstm
from seqlab.models.mingru.scan import chunked_scan, log_space_scan, sequential_scan

V = 13
LENGTHS = (1, 2, 3, 7, 63, 64, 65, 128, 300)
# family -> (builder, config with tiny widths, its parallel scan)
FAMILIES = {
    "mingru": (build_mingru, lambda **kw: MinGRUConfig(n_embd=8, n_layer=2, **kw), "parallel"),
    "minlstm": (build_minlstm, lambda **kw: MinLSTMConfig(n_embd=8, n_layer=2, norm="layernorm", **kw),
                "parallel"),
    "mamba": (build_mamba, lambda **kw: MambaConfig(n_embd=8, n_layer=2, d_state=4, headdim=4, **kw),
              "chunked"),
}


def pair(family: str) -> tuple[torch.nn.Module, torch.nn.Module]:
    """The same weights as a parallel model and as a sequential one."""
    build, config, parallel = FAMILIES[family]
    torch.manual_seed(0)
    fast, slow = build(config(scan=parallel), V), build(config(scan="sequential"), V)
    slow.load_state_dict(fast.state_dict())
    return fast, slow


@pytest.mark.parametrize("family", FAMILIES)
def test_parallel_equals_sequential_outputs_and_gradients(family):
    fast, slow = pair(family)
    for T in LENGTHS:
        idx, targets = torch.randint(0, V, (3, T)), torch.randint(0, V, (3, T))
        for model in (fast, slow):
            model.zero_grad()
            logits, _ = model(idx)
            F.cross_entropy(logits.flatten(0, 1), targets.flatten()).backward()
        torch.testing.assert_close(fast(idx)[0], slow(idx)[0], atol=1e-5, rtol=1e-5, msg=f"T={T}")
        for (name, p), q in zip(fast.named_parameters(), slow.parameters()):
            torch.testing.assert_close(p.grad, q.grad, atol=1e-5, rtol=1e-4, msg=f"T={T} {name}")


def test_scans_agree_and_chunked_gradient_is_exact():
    torch.manual_seed(0)
    for T in LENGTHS:
        a, b, h0 = torch.rand(2, T, 5), torch.rand(2, T, 5) + 0.1, torch.rand(2, 5)
        reference = sequential_scan(a, b, h0)
        torch.testing.assert_close(chunked_scan(a, b, h0), reference, atol=1e-5, rtol=1e-5)
        # log h = a* + logcumsumexp(...) cancels digits in fp32 (3e-5 relative at T=300): float64
        a, b, h0 = a.double(), b.double(), h0.double()
        torch.testing.assert_close(log_space_scan(a.log(), b.log(), h0), sequential_scan(a, b, h0))
    for T in (1, 3, 4, 9):  # chunks of 4: one chunk, exact chunks, a padded last chunk
        a, b, h0 = (torch.rand(2, T, 3, dtype=torch.float64, requires_grad=True),
                    torch.randn(2, T, 3, dtype=torch.float64, requires_grad=True),
                    torch.randn(2, 3, dtype=torch.float64, requires_grad=True))
        assert torch.autograd.gradcheck(lambda a, b, h0: chunked_scan(a, b, h0, chunk=4), (a, b, h0))


CACHED = [("mingru", {}), ("mingru", {"d_conv": 0, "mlp": False}), ("minlstm", {}), ("mamba", {}),
          ("mamba", {"chunk_size": 16})]


@pytest.mark.parametrize("family,extra", CACHED)
def test_cached_generation_equals_recomputation(family, extra):
    build, config, parallel = FAMILIES[family]
    torch.manual_seed(1)
    model = build(config(scan=parallel, **extra), V).eval()
    idx = torch.randint(0, V, (2, 75))
    full, _ = model(idx)
    pieces, state = [], None
    for start, stop in [(0, 33), (33, 38)] + [(t, t + 1) for t in range(38, 75)]:
        logits, state = model(idx[:, start:stop], state)  # a prefix, a block, then one token at a time
        pieces.append(logits)
    torch.testing.assert_close(torch.cat(pieces, dim=1), full, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("family", FAMILIES)
def test_later_tokens_do_not_change_earlier_outputs(family):
    build, config, parallel = FAMILIES[family]
    torch.manual_seed(2)
    model = build(config(scan=parallel), V).eval()
    for T, extra in ((5, 3), (63, 67), (64, 1), (100, 200)):
        idx = torch.randint(0, V, (2, T + extra))
        torch.testing.assert_close(model(idx)[0][:, :T], model(idx[:, :T])[0], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("cell", [MinGRU, MinLSTM])
def test_saturated_gates_over_long_sequences_stay_finite(cell):
    torch.manual_seed(3)
    layer = cell(4, 6, "parallel")
    x = (torch.randn(2, 2048, 4) * 60).requires_grad_()  # pre-activations in the hundreds: gates 0 or 1
    k = layer.pre(x)
    a, _ = layer.coefficients(k)
    assert (a < 1e-6).any() and (a > 1 - 1e-6).any()
    out, _ = layer(x)
    out.square().mean().backward()
    assert torch.isfinite(out).all() and torch.isfinite(x.grad).all()
    assert all(torch.isfinite(p.grad).all() for p in layer.parameters())
    torch.testing.assert_close(out, sequential_scan(*layer.coefficients(k)), atol=1e-4, rtol=1e-5)
    assert torch.isfinite(log_space_scan(*layer.log_coefficients(k))).all()


def test_mamba_with_extreme_step_sizes_stays_finite():
    torch.manual_seed(4)
    mixer = Mamba2Mixer(8, d_state=4, headdim=4, expand=2)  # 4 heads
    with torch.no_grad():
        mixer.dt_bias.copy_(torch.tensor([30.0, -30.0, 5.0, -8.0]))  # decays ~0, ~1 and between
    x = torch.randn(2, 2048, 8, requires_grad=True)
    out, _ = mixer(x)
    out.square().mean().backward()
    assert torch.isfinite(out).all() and torch.isfinite(x.grad).all()
    assert all(torch.isfinite(p.grad).all() for p in mixer.parameters())


@pytest.mark.parametrize("family", FAMILIES)
def test_unknown_settings_are_one_line_errors(family):
    build, config, _ = FAMILIES[family]
    with pytest.raises(SeqlabError, match="model.scan must be one of"):
        build(config(scan="fast"), V)
    logits, state = build(config(), V)(torch.zeros(1, 4, dtype=torch.long))  # the defaults build and run
    assert logits.shape == (1, 4, V) and len(state) == 2


def test_unknown_norm_is_an_error():
    with pytest.raises(SeqlabError, match="model.norm must be one of rmsnorm, layernorm"):
        build_mingru(MinGRUConfig(norm="batchnorm"), V)
