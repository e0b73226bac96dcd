"""`seqlab flops`: analytic FLOPs against FlopCounterMode, the seed's formulas, the CLI, peak FLOP/s."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import run_cli
from omegaconf import OmegaConf

from seqlab.engine.peak import known_gpu_peak, measure_matmul_peak, peak_flops
from seqlab.errors import SeqlabError
from seqlab.flops import flop_families, flops_json, flops_per_token, flops_report
from seqlab.flops.measure import measure_flops, measure_report
from seqlab.models.recurrent.config import GRUConfig, LSTMConfig, RNNConfig
from seqlab.models.transformer.config import TransformerConfig
from seqlab.registry import MODELS, build_model, explicit_config

GATES = {"rnn": 1, "gru": 3, "lstm": 4}  # H-wide weight blocks per cell: Elman 1, GRU 3, LSTM 4

RECURRENT = {"rnn": RNNConfig, "gru": GRUConfig, "lstm": LSTMConfig}


def recurrent_cfg(name: str, E: int, H: int, L: int, bias: bool = True, impl: str = "scratch"):
    return OmegaConf.structured(RECURRENT[name](embed_size=E, hidden_size=H, num_layers=L, bias=bias, impl=impl))


def transformer_cfg(D: int, L: int, heads: int = 2, block: int = 16, **kw):
    return OmegaConf.structured(TransformerConfig(n_embd=D, n_layer=L, n_head=heads, block_size=block,
                                                  attention=kw.pop("attention", "manual"), **kw))


def close(measured: float, analytic: float) -> bool:
    return abs(measured - analytic) <= 0.01 * analytic


def check_against_counter(cfg, V: int, T: int, B: int, target_len: int | None = None) -> None:
    """Totals (forward, training) and per-component forward within 1%; params exact.
    `target_len`: an encoder-decoder's decoder length (T is then its source's)."""
    report = measure_report(flops_report(cfg, V, T, B, target_len=target_len), cfg)
    total = report.total
    assert close(report.measured["forward"], total.forward), (report.measured, total.forward)
    assert close(report.measured["training"], total.training), (report.measured, total.training)
    for row in report.rows:
        if row.in_total:
            assert close(row.measured_forward, row.forward), row
    assert total.params == sum(p.numel() for p in build_model(cfg, V).parameters())


# (T, D or (E, H), L, vocab, batch)
GRID = [(1, (8, 8), 1, 5, 1), (7, (16, 16), 2, 11, 3), (12, (6, 20), 3, 30, 2), (9, (24, 8), 1, 86, 4)]


@pytest.mark.parametrize("name", sorted(GATES))
@pytest.mark.parametrize("T,dims,L,V,B", GRID)
@pytest.mark.parametrize("bias", [True, False])
def test_recurrent_matches_counter(name, T, dims, L, V, B, bias):
    check_against_counter(recurrent_cfg(name, *dims, L, bias), V, T, B)


@pytest.mark.parametrize("T,D,L,V,B,extra", [
    (1, 8, 1, 5, 1, {}),
    (10, 16, 2, 13, 3, {"pos_encoding": "sinusoidal", "attn_bias": True}),
    (16, 32, 1, 86, 2, {"norm": "post", "bias": False, "pos_encoding": "none"}),
    (5, 24, 3, 40, 4, {"dropout": 0.1}),
    (12, 32, 2, 20, 3, {"pos_encoding": "rope", "norm_layer": "rmsnorm", "activation": "swiglu", "d_ff": 88,
                        "bias": False}),  # the llama preset's switches
    (7, 16, 1, 13, 2, {"activation": "swiglu", "norm_layer": "rmsnorm", "norm": "post"}),  # with MLP biases
])
def test_transformer_manual_matches_counter(T, D, L, V, B, extra):
    check_against_counter(transformer_cfg(D, L, **extra), V, T, B)


def test_counter_blind_spots_on_cpu_are_real():
    """What the notes claim: fused nn.LSTM and SDPA attention are invisible to the counter on
    CPU; fused nn.RNN/nn.GRU are counted in full. The report measures a countable copy instead."""
    V, T, B = 20, 6, 2
    idx = torch.randint(0, V, (B, T))
    for name in GATES:
        cfg = recurrent_cfg(name, 8, 12, 2, impl="fused")
        rows = {r.key: r for r in flops_report(cfg, V, T, B).rows}
        seen = measure_flops(build_model(cfg, V), idx)["forward"]
        expected = rows["head"].forward if name == "lstm" else rows["head"].forward + rows["recurrence"].forward
        assert seen == expected, name
        assert explicit_config(cfg).impl == "scratch"
    cfg = transformer_cfg(16, 1, attention="sdpa")
    report = flops_report(cfg, V, T, B)
    attention = next(r for r in report.rows if r.key == "attention").forward
    assert measure_flops(build_model(cfg, V), idx)["forward"] == report.total.forward - attention
    measured = measure_report(report, cfg)
    assert measured.measured["forward"] == report.total.forward
    assert measured.measured["as_configured_forward"] == report.total.forward - attention


@pytest.mark.parametrize("name", sorted(GATES))
@pytest.mark.parametrize("T,D,L", [(20, 8, 1), (100, 16, 3)])
def test_seed_rnn_formulas(name, T, D, L):
    """Elman: generate 4TLD²; the seed's 8TLD² is the backward alone; training 12TLD². GRU 3x, LSTM 4x."""
    g = GATES[name]
    cfg = recurrent_cfg(name, D, D, L)
    rec = next(r for r in flops_report(cfg, 50, T, h0_grad=True).rows if r.key == "recurrence")
    assert rec.forward == rec.generate == g * 4 * T * L * D * D
    assert rec.backward == g * 8 * T * L * D * D
    assert rec.training == g * 12 * T * L * D * D
    assert (rec.seq_forward, rec.seq_training, rec.seq_generate) == (T * L, 2 * T * L, T * L)
    # seqlab's windows start from h_0 = 0, which needs no gradient: one hidden-state matmul less per layer
    default = next(r for r in flops_report(cfg, 50, T).rows if r.key == "recurrence")
    assert default.backward == g * (8 * T * L * D * D - 2 * L * D * D)


@pytest.mark.parametrize("T,D,L", [(100, 128, 1), (37, 64, 8)])
def test_seed_transformer_formulas(T, D, L):
    cfg = transformer_cfg(D, L, heads=4, block=max(T, 100))
    rows = {r.key: r for r in flops_report(cfg, 92, T).rows}
    dense = sum(rows[k].forward for k in ("qkv", "out", "mlp"))
    assert dense == 24 * L * T * D * D
    assert rows["attention"].forward == 4 * L * T * T * D  # computed: the full T×T
    assert rows["needed"].forward == 2 * L * T * (T + 1) * D  # needed: the causal triangle
    assert not rows["needed"].in_total
    for key in ("qkv", "attention", "out", "mlp"):
        assert rows[key].backward == 2 * rows[key].forward
    assert sum(rows[k].seq_forward for k in ("qkv", "attention", "out", "mlp")) == 6 * L
    assert sum(rows[k].seq_backward for k in ("qkv", "attention", "out", "mlp")) == 6 * L
    assert rows["attention"].generate == 2 * L * T * (T + 1) * D  # KV cache: step t reads t keys


def test_seed_transformer_numbers_and_params():
    cfg = transformer_cfg(128, 1, heads=4, block=100, attention="sdpa")
    report = flops_report(cfg, 92, 100)
    rows = {r.key: r for r in report.rows}
    assert sum(rows[k].forward for k in ("qkv", "attention", "out", "mlp")) == 44_441_600
    assert report.total.params == 222_592  # the seed's printed count for its 92-character vocabulary
    assert any("44,441,600" in line for line in report.formulas)


def test_per_token_and_flops_json():
    cfg = recurrent_cfg("gru", 64, 256, 1, impl="fused")
    per = flops_per_token(cfg, 86, 20)
    total = flops_report(cfg, 86, 20).total
    assert per["forward"] * 20 == pytest.approx(total.forward)
    assert per["training"] == pytest.approx(per["forward"] + per["backward"])
    out = flops_json(cfg, 86, 20, 32)
    assert out["per_step"]["training"] == pytest.approx(per["training"] * 20 * 32)
    json.dumps(out)
    with pytest.raises(SeqlabError):
        flops_report(OmegaConf.create({"name": "mystery"}), 86, 20)
    with pytest.raises(SeqlabError, match="no FLOP model for model 'bigram'; families with one"):
        flops_report(OmegaConf.create({"name": "bigram"}), 86, 20)
    with pytest.raises(SeqlabError, match="reads one sequence: a target length is for encoder-decoders"):
        flops_report(cfg, 86, 20, target_len=5)


def test_flop_models_are_declared_on_the_specs():
    """Every family with a FLOP model gets one through the registry; the others say so."""
    assert set(flop_families()) == {n for n, s in MODELS.items() if s.flops is not None}
    assert {"rnn", "gru", "lstm", "transformer", "encoder", "seq2seq_rnn", "seq2seq_transformer"} <= set(flop_families())


def test_cli_json_has_the_seed_numbers(tmp_path):
    result = run_cli("flops", "model=transformer", "--format", "json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    by_t = {r["seq_len"]: r for r in data["reports"]}
    assert set(by_t) == {20, 100}  # task.seq_len and the seed's T = block_size
    seed = by_t[100]
    rows = {r["key"]: r for r in seed["rows"]}
    assert sum(rows[k]["forward"] for k in ("qkv", "attention", "out", "mlp")) == 44_441_600
    assert seed["measured"]["forward"] == seed["total"]["forward"]
    assert seed["measured"]["training"] == seed["total"]["training"]


def test_cli_markdown_and_plot(tmp_path):
    png = tmp_path / "scaling.png"
    result = run_cli("flops", "model=lstm", "--seq-len", "10", "--seq-len", "50", "--format", "markdown",
                     "--plot", str(png), "--no-measure", "--batch", "4", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("| component |") == 2 and "Conventions:" in result.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    bad = run_cli("flops", "--format", "yaml", "--no-measure", cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr.startswith("error:")


def test_peak_flops(monkeypatch, tmp_path):
    assert peak_flops("cpu", override=3e12) == (3e12, "trainer.peak_flops")
    with pytest.raises(SeqlabError):
        peak_flops("cpu", override=0)
    assert known_gpu_peak("NVIDIA H100 80GB HBM3", "bf16")[0] == pytest.approx(989.4e12)
    assert known_gpu_peak("NVIDIA H100 PCIe", "fp32")[0] == pytest.approx(51.2e12)
    assert known_gpu_peak("NVIDIA L4", "fp32")[0] == pytest.approx(30.3e12)
    assert known_gpu_peak("NVIDIA L40S", "bf16")[0] == pytest.approx(362.1e12)
    assert known_gpu_peak("NVIDIA A10G", "fp32") is None  # unknown: measured instead
    assert measure_matmul_peak("cpu", budget_s=0.01) > 1e8
    monkeypatch.setenv("SEQLAB_CACHE", str(tmp_path))
    calls = []
    monkeypatch.setattr("seqlab.engine.peak.measure_matmul_peak",
                        lambda device, dtype=None, budget_s=1.5: calls.append(device) or 5e10)
    first, second = peak_flops("cpu"), peak_flops("cpu")
    assert first[0] == second[0] == 5e10 and len(calls) == 3  # best of 3 rounds, once, then cached
    assert "cached" in second[1] and (tmp_path / "peak_flops_v2.json").exists()
    assert " on 20" in second[1]  # when it was measured, in flops.json's peak_source


def test_peak_is_the_best_seen_and_remeasured_when_stale(monkeypatch, tmp_path):
    """A measurement on a busy machine comes out low: rounds take the best, the cache keeps the
    best ever seen, and an entry older than a week is measured again."""
    import seqlab.engine.peak as peak

    monkeypatch.setenv("SEQLAB_CACHE", str(tmp_path))
    values = iter([4e10, 9e10, 6e10, 1e10, 1e10, 1e10])
    monkeypatch.setattr(peak, "measure_matmul_peak", lambda device, dtype=None, budget_s=1.5: next(values))
    assert peak_flops("cpu")[0] == 9e10  # best of the three rounds
    cache = json.loads((tmp_path / "peak_flops_v2.json").read_text())
    (key, entry), = cache.items()
    entry["measured_at"] = "2020-01-01T00:00:00+00:00"  # stale
    (tmp_path / "peak_flops_v2.json").write_text(json.dumps({key: entry}))
    value, source = peak_flops("cpu")
    assert value == 9e10 and "cached" not in source  # re-measured (1e10, busy) but the best is kept


def test_measuring_the_peak_leaves_the_run_random_streams_alone():
    """A run's first MFU measures the device's peak; a later one reads it from the cache. Both must
    train the same: the measurement draws from its own generator, never torch's global one."""
    import torch

    from seqlab.engine.peak import measure_matmul_peak

    torch.manual_seed(3)
    before = torch.get_rng_state()
    assert measure_matmul_peak("cpu", budget_s=0.01) > 0
    assert torch.equal(torch.get_rng_state(), before)
