"""The scratch GRU (seed equations) and torch.nn.GRU compute the same function."""

import pytest
import torch
from omegaconf import OmegaConf

from seqlab.models.gru import build_gru, gru_cell


def make_pair(num_layers: int, bias: bool = True):
    cfg = dict(name="gru", embed_size=12, hidden_size=16, num_layers=num_layers, dropout=0.0, bias=bias)
    torch.manual_seed(0)
    fused = build_gru(OmegaConf.create({**cfg, "impl": "fused"}), vocab_size=11)
    scratch = build_gru(OmegaConf.create({**cfg, "impl": "scratch"}), vocab_size=11)
    scratch.load_state_dict(fused.state_dict())  # same names, same layout
    return fused, scratch


@pytest.mark.parametrize("num_layers", [1, 2, 3])
@pytest.mark.parametrize("bias", [True, False])
def test_scratch_and_fused_same_logits_and_gradients(num_layers, bias):
    fused, scratch = make_pair(num_layers, bias)
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
    torch.testing.assert_close(s1, s2, atol=1e-5, rtol=1e-5)
    assert g1.keys() == g2.keys()
    for name in g1:
        torch.testing.assert_close(g1[name], g2[name], atol=1e-5, rtol=1e-4, msg=name)


def test_state_carries_across_calls():
    """Feeding a sequence in two halves with the state equals feeding it whole."""
    fused, scratch = make_pair(2)
    idx = torch.randint(0, 11, (3, 10))
    for model in (fused, scratch):
        whole, _ = model(idx)
        first, state = model(idx[:, :6])
        second, _ = model(idx[:, 6:], state)
        torch.testing.assert_close(torch.cat([first, second], 1), whole, atol=1e-5, rtol=1e-5)


def test_cell_matches_seed_equations_without_bias():
    """The seed's cell: r, z, n from x and h, h' = (1 - z) n + z h."""
    torch.manual_seed(0)
    H, D = 3, 2
    w_ih, w_hh = torch.randn(3 * H, D), torch.randn(3 * H, H)
    x, h = torch.randn(1, D), torch.randn(1, H)
    h_new, r, z, n = gru_cell(x, h, w_ih, w_hh)
    Wxr, Wxz, Wxn = w_ih.chunk(3)
    Whr, Whz, Whn = w_hh.chunk(3)
    r_ref = torch.sigmoid(x @ Wxr.T + h @ Whr.T)
    z_ref = torch.sigmoid(x @ Wxz.T + h @ Whz.T)
    n_ref = torch.tanh(x @ Wxn.T + r_ref * (h @ Whn.T))
    torch.testing.assert_close(h_new, (1 - z_ref) * n_ref + z_ref * h)
    torch.testing.assert_close((r, z, n), (r_ref, z_ref, n_ref))


def test_unknown_impl_is_a_user_error():
    from seqlab.errors import SeqlabError

    cfg = OmegaConf.create(dict(name="gru", embed_size=4, hidden_size=4, num_layers=1, dropout=0.0,
                                bias=True, impl="cudnn"))
    with pytest.raises(SeqlabError, match="impl"):
        build_gru(cfg, 5)
