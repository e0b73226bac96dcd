import torch
from omegaconf import OmegaConf

from seqlab.models.generate import filter_logits, generate
from seqlab.models.recurrent.gru import build_gru


def test_top_k_keeps_k():
    logits = torch.tensor([[1.0, 3.0, 2.0, 0.0]])
    out = filter_logits(logits, top_k=2)
    assert torch.isfinite(out).tolist() == [[False, True, True, False]]


def test_top_p_keeps_smallest_nucleus():
    probs = torch.tensor([[0.5, 0.3, 0.15, 0.05]])
    out = filter_logits(probs.log(), top_p=0.7)
    assert torch.isfinite(out).tolist() == [[True, True, False, False]]
    out = filter_logits(probs.log(), top_p=0.1)  # the top token always stays
    assert torch.isfinite(out).tolist() == [[True, False, False, False]]


def test_temperature_scales():
    logits = torch.tensor([[2.0, 4.0]])
    torch.testing.assert_close(filter_logits(logits, temperature=2.0), torch.tensor([[1.0, 2.0]]))


def tiny_gru():
    torch.manual_seed(0)
    return build_gru(OmegaConf.create(dict(name="gru", embed_size=8, hidden_size=16, num_layers=2,
                                           dropout=0.0, bias=True, impl="fused")), vocab_size=7)


def test_generate_length_seed_and_banned():
    model = tiny_gru()
    prompt = torch.tensor([[1, 2, 3]]).repeat(3, 1)
    a = generate(model, prompt, 25, generator=torch.Generator().manual_seed(5), banned=[6])
    b = generate(model, prompt, 25, generator=torch.Generator().manual_seed(5), banned=[6])
    assert a.shape == (3, 25)
    assert torch.equal(a, b)
    assert not (a == 6).any()


def test_greedy_with_state_equals_rerunning_the_prefix():
    """Carrying the hidden state token by token gives what re-running the whole prefix gives."""
    model = tiny_gru().eval()
    prompt = torch.tensor([[1, 2, 3, 4]])
    fast = generate(model, prompt, 12, temperature=0)
    seq = prompt
    for _ in range(12):
        logits, _ = model(seq)
        seq = torch.cat([seq, logits[:, -1].argmax(-1, keepdim=True)], 1)
    assert torch.equal(fast, seq[:, 4:])
