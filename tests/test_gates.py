"""`seqlab gates`: the seed's two-unit GRU exercises, checked on the numbers."""

from __future__ import annotations

from dataclasses import replace

import pytest
from conftest import run_cli

from seqlab.analysis import gates
from seqlab.analysis.gates import PRESETS, gate_values, get_preset, settings_for
from seqlab.errors import SeqlabError

DATA = [-2.0, -1.0, -0.3, 0.0, 0.5, 1.0, 2.0]


def values(preset: str, **data: float) -> dict[str, float]:
    return gate_values(replace(get_preset(preset), **data))


def test_memory_copies_the_old_hidden_state():
    for x0 in DATA:
        for h0 in DATA:
            v = values("memory", x0=x0, h0=h0)
            assert v["z0"] > 0.99
            assert abs(v["h_new0"] - h0) < 0.05, (x0, h0, v)


def test_difference_cancels_equal_input_and_hidden():
    for d in DATA:
        assert abs(values("difference", x0=d, h0=d)["n0"]) < 0.05, d
    # the new content moves against the hidden data and with the input
    assert values("difference", x0=0.5, h0=1.0)["n0"] < values("difference", x0=0.5, h0=0.0)["n0"]
    assert values("difference", x0=1.0, h0=0.5)["n0"] > values("difference", x0=0.0, h0=0.5)["n0"]
    v = values("difference", x0=0.5, h0=-0.5)
    assert v["h_new0"] == pytest.approx(v["n0"], abs=0.01)  # z ~ 0: the output is the difference


def test_input_only_ignores_the_hidden_state():
    for x0 in DATA:
        ns = [values("input-only", x0=x0, h0=h0) for h0 in DATA]
        assert all(v["r0"] < 0.01 for v in ns)
        assert max(v["n0"] for v in ns) - min(v["n0"] for v in ns) < 0.05, x0


def test_sum_grows_with_input_plus_hidden():
    pairs = [(-1.0, -0.5), (-0.3, 0.0), (0.0, 0.1), (0.2, 0.1), (0.4, 0.3), (1.0, 1.0)]
    ns = [values("sum", x0=x0, h0=h0) for x0, h0 in pairs]
    assert all(a["n0"] < b["n0"] for a, b in zip(ns, ns[1:]))
    assert all(abs(v["n0"]) < 1 and v["h_new0"] == pytest.approx(v["n0"], abs=0.01) for v in ns)
    # both wiggles move the output the same way (seed exercise 1)
    assert values("sum", x0=0.3, h0=0.0)["h_new0"] > values("sum", x0=0.0, h0=0.0)["h_new0"]
    assert values("sum", x0=0.0, h0=0.3)["h_new0"] > values("sum", x0=0.0, h0=0.0)["h_new0"]


def test_control_off_opens_both_gates_halfway():
    for name in PRESETS:
        v = gate_values(replace(get_preset(name), x1=0.0))
        assert v["r0"] == pytest.approx(0.5) and v["z0"] == pytest.approx(0.5)


def test_uses_the_projects_gru_cell(monkeypatch):
    import seqlab.models.recurrent.gru as gru

    calls = []
    real = gru.gru_cell
    monkeypatch.setattr(gru, "gru_cell", lambda *a, **k: calls.append(1) or real(*a, **k))
    gate_values(get_preset("sum"))
    assert calls == [1]


def test_settings_and_unknown_preset():
    s = settings_for("memory", x0=0.25, w_hn=None)
    assert s.x0 == 0.25 and s.w_xz == 3.0 and s.w_hn == 3.0
    with pytest.raises(SeqlabError, match="known: sum, difference, memory, input-only"):
        get_preset("nope")


def test_grid_png(tmp_path):
    path, rows = gates.plot_grid(tmp_path / "grid.png")
    assert path.read_bytes()[:4] == b"\x89PNG" and len(rows) == 2 * len(PRESETS)


def test_cli_writes_png_and_rejects_bad_preset(tmp_path):
    result = run_cli("gates", "--preset", "memory", "--out", "tmp.png", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "tmp.png").read_bytes()[:4] == b"\x89PNG"
    assert "tmp.png" in result.stdout and "-0.497" in result.stdout
    bad = run_cli("gates", "--preset", "product", cwd=tmp_path)
    assert bad.returncode == 2
    assert bad.stderr.strip().count("\n") == 0 and "unknown preset 'product'" in bad.stderr
