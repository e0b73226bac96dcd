"""seqlab's CPU Adam is torch's single-tensor Adam/AdamW: same updates bit for bit, same state."""

import copy
import sys
from types import SimpleNamespace

import pytest
import torch

from seqlab.engine.optim import Adam, make_optimizer


def _model(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Embedding(7, 6), torch.nn.Linear(6, 5), torch.nn.Linear(5, 7))


def _steps(model: torch.nn.Module, opt, n: int, start: int = 0, lrs=(1e-2, 3e-3, 5e-3)) -> None:
    for i in range(start, start + n):
        g = torch.Generator().manual_seed(i)
        x = torch.randint(0, 7, (4, 3), generator=g)
        for group in opt.param_groups:
            group["lr"] = lrs[i % len(lrs)]
        opt.zero_grad(set_to_none=True)
        logits = model(x)
        if i % 2:  # a step where the last layer gets no gradient: Adam skips it
            logits = model[1](model[0](x)).sum() + 0 * logits.detach().sum()
        logits.sum().backward() if logits.dim() == 0 else torch.nn.functional.cross_entropy(
            logits.reshape(-1, 7), x.reshape(-1)).backward()
        opt.step()


@pytest.mark.parametrize("kind,decoupled", [(torch.optim.Adam, False), (torch.optim.AdamW, True)])
@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_updates_are_torchs_bit_for_bit(kind, decoupled, weight_decay):
    ours, theirs = _model(), _model()
    hyper = {"lr": 1e-2, "betas": (0.9, 0.95), "weight_decay": weight_decay}
    a, b = Adam(ours.parameters(), decoupled_weight_decay=decoupled, **hyper), kind(theirs.parameters(), **hyper)
    _steps(ours, a, 6)
    _steps(theirs, b, 6)
    for p, q in zip(ours.parameters(), theirs.parameters()):
        assert torch.equal(p, q)
    sa, sb = a.state_dict(), b.state_dict()
    assert sa["param_groups"] == sb["param_groups"]
    assert sa["state"].keys() == sb["state"].keys()
    for i in sa["state"]:
        for key, value in sb["state"][i].items():
            assert torch.equal(sa["state"][i][key], value) and sa["state"][i][key].dtype == value.dtype


def test_state_moves_both_ways_and_training_continues_identically():
    base = _model()
    hyper = {"lr": 1e-2, "betas": (0.9, 0.95), "weight_decay": 0.1}
    start = torch.optim.AdamW(base.parameters(), **hyper)
    _steps(base, start, 3)
    saved = start.state_dict()
    ours, theirs = _model(), _model()
    ours.load_state_dict(base.state_dict())
    theirs.load_state_dict(base.state_dict())
    a = Adam(ours.parameters(), decoupled_weight_decay=True, **hyper)
    a.load_state_dict(saved)  # torch -> seqlab
    b = torch.optim.AdamW(theirs.parameters(), **hyper)
    b.load_state_dict(copy.deepcopy(a.state_dict()))  # seqlab -> torch (torch keeps what it is given)
    _steps(ours, a, 3, start=3)
    _steps(theirs, b, 3, start=3)
    for p, q in zip(ours.parameters(), theirs.parameters()):
        assert torch.equal(p, q)


def test_a_state_of_another_model_is_refused():
    a = Adam(_model().parameters(), lr=1e-2, betas=(0.9, 0.95), weight_decay=0.0)
    other = torch.nn.Linear(3, 3)
    b = torch.optim.Adam(other.parameters())
    other(torch.randn(1, 3)).sum().backward()
    b.step()
    with pytest.raises(ValueError):
        a.load_state_dict(b.state_dict())


def test_a_cpu_step_leaves_torch_dynamo_unimported():
    """The reason seqlab's Adam exists: torch.optim imports torch._dynamo (~2 s) on first use."""
    import subprocess

    code = ("import sys, types, torch\n"
            "from seqlab.engine.optim import make_optimizer\n"
            "m = torch.nn.Linear(3, 3)\n"
            "o = make_optimizer(m, types.SimpleNamespace(optimizer='adamw', lr=1e-3, beta1=0.9, beta2=0.95,"
            " weight_decay=0.1))\n"
            "o.zero_grad(); m(torch.randn(2, 3)).sum().backward(); o.step(); o.load_state_dict(o.state_dict())\n"
            "print('torch._dynamo' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_fused_on_a_gpu_is_torchs():
    cfg = SimpleNamespace(optimizer="adam", lr=1e-3, beta1=0.9, beta2=0.95, weight_decay=0.0)
    assert isinstance(make_optimizer(_model(), cfg), Adam)
    if not torch.cuda.is_available():
        pytest.skip("fused Adam needs a GPU")
    assert isinstance(make_optimizer(_model().cuda(), cfg, fused=True), torch.optim.Adam)
