"""Scratch cells (the seed equations, stepped) and the fused torch modules compute the same function."""

import pytest
import torch
from omegaconf import OmegaConf

from seqlab.errors import SeqlabError
from seqlab.models.recurrent.gru import gru_cell
from seqlab.models.recurrent.lstm import lstm_cell
from seqlab.registry import build_model

EXTRA = {"rnn": {"nonlinearity": "tanh"}, "gru": {}, "lstm": {}}


def model_cfg(name: str, impl: str, num_layers: int, bias: bool = True, **extra):
    return OmegaConf.create(dict(name=name, embed_size=12, hidden_size=16, num_layers=num_layers,
                                 dropout=0.0, bias=bias, impl=impl, **{**EXTRA[name], **extra}))


def make_pair(name: str, num_layers: int, bias: bool = True, **extra):
    torch.manual_seed(0)
    fused = build_model(model_cfg(name, "fused", num_layers, bias, **extra), vocab_size=11)
    scratch = build_model(model_cfg(name, "scratch", num_layers, bias, **extra), vocab_size=11)
    scratch.load_state_dict(fused.state_dict())  # same names, same layout
    return fused, scratch


def assert_states_close(a, b):
    for x, y in zip(a if isinstance(a, tuple) else (a,), b if isinstance(b, tuple) else (b,)):
        torch.testing.assert_close(x, y, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("num_layers", [1, 3])
@pytest.mark.parametrize("bias", [True, False])
def test_scratch_and_fused_same_logits_and_gradients(name, num_layers, bias):
    fused, scratch = make_pair(name, num_layers, bias)
    idx = torch.randint(0, 11, (4, 9), generator=torch.Generator().manual_seed(1))
    targets = torch.randint(0, 11, (4, 9), generator=torch.Generator().manual_seed(2))
    outs = []
    for model in (fused, scratch):
        logits, state = model(idx)
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten())
        loss.backward()
        outs.append((logits, state, {n: p.grad for n, p in model.named_parameters()}))
    (l1, s1, g1), (l2, s2, g2) = outs
    torch.testing.assert_close(l1, l2, atol=1e-5, rtol=1e-5)
    assert_states_close(s1, s2)
    assert g1.keys() == g2.keys()
    for param in g1:
        torch.testing.assert_close(g1[param], g2[param], atol=1e-5, rtol=1e-4, msg=param)


def test_relu_elman_matches_fused():
    fused, scratch = make_pair("rnn", 2, nonlinearity="relu")
    idx = torch.randint(0, 11, (3, 7))
    torch.testing.assert_close(fused(idx)[0], scratch(idx)[0], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", ["rnn", "gru", "lstm"])
def test_state_carries_across_calls(name):
    """Feeding a sequence in two halves with the state equals feeding it whole."""
    for model in make_pair(name, 2):
        idx = torch.randint(0, 11, (3, 10))
        whole, _ = model(idx)
        first, state = model(idx[:, :6])
        second, _ = model(idx[:, 6:], state)
        torch.testing.assert_close(torch.cat([first, second], 1), whole, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("impl", ["fused", "scratch"])
def test_causal(name, impl):
    """Changing the token at position t never changes the logits before t."""
    torch.manual_seed(0)
    model = build_model(model_cfg(name, impl, 2), vocab_size=11).eval()
    idx = torch.randint(0, 11, (2, 12))
    changed = idx.clone()
    changed[:, 7] = (idx[:, 7] + 1) % 11
    a, b = model(idx)[0], model(changed)[0]
    torch.testing.assert_close(a[:, :7], b[:, :7])
    assert not torch.allclose(a[:, 7:], b[:, 7:])


def test_gru_cell_matches_seed_equations_without_bias():
    """The seed's cell: r, z, n from x and h, h' = (1 - z) n + z h."""
    torch.manual_seed(0)
    H, D = 3, 2
    w_ih, w_hh = torch.randn(3 * H, D), torch.randn(3 * H, H)
    x, h = torch.randn(1, D), torch.randn(1, H)
    h_new, (r, z, n) = gru_cell(x, h, w_ih, w_hh)
    Wxr, Wxz, Wxn = w_ih.chunk(3)
    Whr, Whz, Whn = w_hh.chunk(3)
    r_ref = torch.sigmoid(x @ Wxr.T + h @ Whr.T)
    z_ref = torch.sigmoid(x @ Wxz.T + h @ Whz.T)
    n_ref = torch.tanh(x @ Wxn.T + r_ref * (h @ Whn.T))
    torch.testing.assert_close(h_new, (1 - z_ref) * n_ref + z_ref * h)
    torch.testing.assert_close((r, z, n), (r_ref, z_ref, n_ref))


def test_lstm_cell_keeps_memory_when_forget_open_and_input_closed():
    """f = 1, i = 0 -> c_new = c: the cell state carries information unchanged."""
    H = 2
    w_ih, w_hh = torch.zeros(4 * H, 1), torch.zeros(4 * H, H)
    b = torch.zeros(4 * H)
    b[:H], b[H:2 * H] = -50.0, 50.0  # input gate shut, forget gate open
    c = torch.tensor([[0.7, -0.3]])
    (_, c_new), (i, f, _, _) = lstm_cell(torch.ones(1, 1), (torch.zeros(1, H), c), w_ih, w_hh, b, torch.zeros(4 * H))
    torch.testing.assert_close(c_new, c)


@pytest.mark.parametrize("name", ["rnn", "gru", "lstm"])
def test_unknown_impl_is_a_user_error(name):
    with pytest.raises(SeqlabError, match="impl"):
        build_model(model_cfg(name, "cudnn", 1), 5)


def test_unknown_nonlinearity_is_a_user_error():
    with pytest.raises(SeqlabError, match="nonlinearity"):
        build_model(model_cfg("rnn", "fused", 1, nonlinearity="gelu"), 5)
