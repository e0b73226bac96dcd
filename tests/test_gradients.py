"""`seqlab gradients`: ||dL_T/dh_t|| through time, against the spectral-radius theory."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import run_cli
from omegaconf import OmegaConf

from seqlab.analysis import gradients as gr
from seqlab.registry import build_model

V, E, H, T = 12, 8, 16, 20


def config(name: str, **extra) -> object:
    return OmegaConf.create({"name": name, "embed_size": E, "hidden_size": H, "num_layers": 1,
                             "dropout": 0.0, "bias": True, "impl": "fused",
                             **({"nonlinearity": "tanh"} if name == "rnn" else {}), **extra})


def small(name: str, **extra) -> object:
    torch.manual_seed(0)
    return build_model(config(name, **extra), V)


def flow(name: str, tokens: torch.Tensor, **extra) -> list[float]:
    """Gradient norms of the small fused model of `name`, through its scratch twin."""
    return gr.gradient_norms(gr.scratch_twin(small(name, **extra), config(name, **extra), V), tokens)


@pytest.mark.parametrize("rho", [0.7, 1.3])
def test_identity_rnn_follows_the_spectral_radius(rho):
    model = gr.spectral_rnn(V, rho, "identity", E, H, orthogonal=True)
    norms = gr.gradient_norms(model, gr.random_tokens(V, 4, T))
    assert len(norms) == T
    for t in range(T - 1):  # each step back multiplies by W_hh^T = rho * Q^T: exactly rho
        assert norms[t] / norms[t + 1] == pytest.approx(rho, rel=1e-6)
    assert norms[0] / norms[-1] == pytest.approx(rho ** (T - 1), rel=1e-5)
    assert gr.decay_factor(norms) == pytest.approx(rho, rel=1e-6)
    assert (norms[0] < norms[-1]) == (rho < 1)  # vanishing below 1, exploding above


def test_rescaled_random_w_hh_has_that_spectral_radius():
    model = gr.spectral_rnn(V, 1.5, "tanh", E, H)
    assert torch.linalg.eigvals(model.core.weight_hh_l0).abs().max().item() == pytest.approx(1.5, rel=1e-5)


def test_decay_factor_of_a_geometric_series():
    assert gr.decay_factor([3 * 0.8 ** (10 - t) for t in range(1, 11)]) == pytest.approx(0.8)


@pytest.mark.parametrize("name", ["rnn", "gru", "lstm"])
def test_scratch_twin_computes_the_same_model(name):
    model = small(name).eval()
    twin = gr.scratch_twin(model, config(name), V).eval()
    assert isinstance(twin.core, gr.ScratchRecurrent) and not isinstance(model.core, gr.ScratchRecurrent)
    idx = gr.random_tokens(V, 3, 7)
    torch.testing.assert_close(twin(idx)[0], model(idx)[0], atol=1e-5, rtol=1e-5)
    scratch = small(name, impl="scratch")
    scratch.load_state_dict(model.state_dict())  # the same weights give the same flow either way
    assert gr.gradient_norms(scratch, idx) == pytest.approx(gr.gradient_norms(twin, idx), rel=1e-6)


def test_all_three_vanish_at_random_init():
    tokens = gr.random_tokens(V, 8, 30)
    for name in ("rnn", "gru", "lstm"):
        norms = flow(name, tokens)
        assert gr.decay_factor(norms) < 0.9 and norms[0] < 1e-3 * norms[-1], name


def test_stacked_model_measures_the_top_layer():
    model = small("gru", num_layers=2).eval()
    tokens = gr.random_tokens(V, 5, T)
    norms = gr.gradient_norms(gr.scratch_twin(model, config("gru", num_layers=2), V), tokens)
    # the top layer's h_T reaches L_T only through the head: dL/dh_T = W_head^T (softmax - onehot)
    with torch.no_grad():
        probs = torch.softmax(model(tokens[:, :T])[0][:, -1], dim=-1)
        probs[torch.arange(5), tokens[:, T]] -= 1
        expected = (probs @ model.head.weight).norm(dim=-1).mean().item()
    assert len(norms) == T and norms[-1] == pytest.approx(expected, rel=1e-5)


def test_text_windows_and_trained_run(tmp_path):
    from seqlab.runs.checkpoint import save_checkpoint

    (tmp_path / "t.jsonl").write_text("\n".join(json.dumps({"text": f"story {i} of a cat."}) for i in range(50)))
    inputs = gr.Inputs(4, T, text=tmp_path / "t.jsonl")
    vocab = inputs.vocab()
    tokens = inputs.tokens()
    assert tokens.shape == (4, T + 1) and vocab.decode(tokens[0]) in inputs.text
    model_cfg = {"name": "lstm", "embed_size": E, "hidden_size": H, "num_layers": 1, "dropout": 0.0,
                 "bias": True, "impl": "fused"}
    run = tmp_path / "run"
    save_checkpoint(run / "checkpoint", build_model(OmegaConf.create(model_cfg), len(vocab)),
                    {"step": 7, "config": {"model": model_cfg}, "vocab": vocab.to_json()})
    flows = gr.measure([], inputs, [run], with_init=True)
    assert [f.label for f in flows] == ["lstm (init)", "lstm (step 7)"]
    assert all(len(f.norms) == T for f in flows)
    path = gr.plot_flows(flows, tmp_path / "flow.png", "test", styles={"lstm (init)": "--"})
    assert path.read_bytes()[:4] == b"\x89PNG"


def test_split_models():
    assert gr.split_models(["model=rnn,gru", "model.hidden_size=8", "model=lstm"]) == (
        ["rnn", "gru", "lstm"], ["model.hidden_size=8"])


def test_cli_plot_table_and_errors(tmp_path):
    result = run_cli("gradients", "model=rnn,lstm", "model.hidden_size=16", "model.embed_size=8",
                     "--seq-len", "12", "--batch-size", "2", "--out", "flow.png", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "flow.png").read_bytes()[:4] == b"\x89PNG"
    data = json.loads((tmp_path / "flow.json").read_text())
    assert [m["label"] for m in data["models"]] == ["rnn", "lstm"] and len(data["models"][0]["norms"]) == 12
    assert "factor / step" in result.stdout and "flow.png" in result.stdout
    bad = run_cli("gradients", "--checkpoint", "first", cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0, bad.stderr


def test_non_recurrent_model_is_a_user_error():
    with pytest.raises(gr.SeqlabError, match="needs a recurrent model"):
        gr.scratch_twin(torch.nn.Linear(2, 2), OmegaConf.create({"name": "transformer"}), V)
