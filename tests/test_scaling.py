"""`seqlab scaling` on run folders written directly (no training) whose final losses follow a known
law, L(N, D) = E + A/N^alpha + B/D^beta with D = C/(6N) (Chinchilla's fitted form), plus small
noise: the fit recovers N_opt(C) = G (C/6)^a with a = beta/(alpha+beta) within its bootstrap
intervals, names and leaves out the budgets it cannot fit, and writes scaling.json and both figures."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli

from seqlab.analysis import scaling
from seqlab.runs.reader import load_run

E, A, B, ALPHA, BETA = 1.69, 406.4, 410.7, 0.34, 0.28
TRUE_A = BETA / (ALPHA + BETA)
G = (ALPHA * A / (BETA * B)) ** (1 / (ALPHA + BETA))
BUDGETS = (1e15, 1e16, 1e17, 1e18)
NOISE = 0.01


@pytest.fixture(autouse=True)
def wide(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # rich tables at full width in captured output


def true_n_opt(budget: float) -> float:
    return G * (budget / 6) ** TRUE_A


def law_loss(n: np.ndarray, budget: float) -> np.ndarray:
    return E + A / n ** ALPHA + B / (budget / (6 * n)) ** BETA


def _run(folder: Path, family: str, params: float, loss: float, *, budget: float | None, flops: float) -> None:
    """A finished run folder as the trainer leaves it: config.yaml, its last record, summary.json."""
    folder.mkdir(parents=True)
    set_budget = "null" if budget is None else f"{budget:g}"
    (folder / "config.yaml").write_text(f"model:\n  name: {family}\ntask:\n  name: tinystories\n"
                                        f"trainer:\n  flops_budget: {set_budget}\nseed: 1337\n")
    (folder / "metrics.jsonl").write_text(json.dumps({"step": 100, "flops": flops, "val_loss": loss}) + "\n")
    (folder / "summary.json").write_text(json.dumps({
        "status": "completed", "params": round(params), "flops": flops, "final_val_loss": loss}))


def _ladder(root: Path, family: str, budget: float, sizes: np.ndarray, losses: np.ndarray,
            set_budget: bool = True) -> None:
    """One run per size at one budget; without `set_budget`, only the FLOPs trained say the budget
    (a hair above it, as max_steps = ceil(budget / FLOPs per step) leaves them)."""
    for i, (n, loss) in enumerate(zip(sizes, losses)):
        _run(root / f"{family}_C{budget:g}_{i}", family, n, float(loss), budget=budget if set_budget else None,
             flops=budget * (1 + 0.003 * i))


def known_law_sweep(root: Path, seed: int = 0) -> Path:
    """gru: four budgets of 7 sizes spanning 8x around the true optimum, plus one budget of 2 sizes,
    one whose ladder stops below the optimum, one whose losses bend the wrong way. llama: budgets
    read from the FLOPs trained, only one of them usable."""
    rng = np.random.default_rng(seed)
    sweep = root / "sweep"
    for budget in BUDGETS:
        sizes = true_n_opt(budget) * np.logspace(-0.45, 0.45, 7) * 10 ** rng.uniform(-0.1, 0.1)
        _ladder(sweep, "gru", budget, sizes, law_loss(sizes, budget) + rng.normal(0, NOISE, len(sizes)))
    sizes = true_n_opt(3e18) * np.logspace(-1.3, -0.4, 5)  # the optimum lies above the largest size
    _ladder(sweep, "gru", 3e18, sizes, law_loss(sizes, 3e18))
    sizes = true_n_opt(5e14) * np.array([0.5, 2.0])
    _ladder(sweep, "gru", 5e14, sizes, law_loss(sizes, 5e14))
    sizes = true_n_opt(3e16) * np.logspace(-0.45, 0.45, 5)
    _ladder(sweep, "gru", 3e16, sizes, 3.0 - (np.log10(sizes / true_n_opt(3e16))) ** 2)  # a maximum
    sizes = true_n_opt(1e16) * np.logspace(-0.45, 0.45, 5)
    _ladder(sweep, "llama", 1e16, sizes, law_loss(sizes, 1e16) + 0.05, set_budget=False)
    _ladder(sweep, "llama", 1e17, sizes[:2], law_loss(sizes[:2], 1e17) + 0.05, set_budget=False)
    return sweep


def _fit(sweep: Path) -> dict:
    runs = [load_run(p, print) for p in sorted(sweep.iterdir())]
    return scaling.fit_all(runs, "val_loss", 1000, 0)


def _budget(result: dict, family: str, budget: float) -> dict:
    return next(b for b in result["budgets"] if b["family"] == family and b["budget"] == budget)


def test_the_exponent_and_each_optimum_are_recovered_within_their_intervals(tmp_path):
    result = _fit(known_law_sweep(tmp_path))
    gru = next(f for f in result["families"] if f["family"] == "gru")
    assert gru["budgets"] == list(BUDGETS)  # only the four usable budgets enter the power law
    law = gru["n_opt_law"]
    low, high = law["a_ci"]
    assert low <= law["a"] <= high
    assert low <= TRUE_A <= high
    assert abs(law["a"] - TRUE_A) < 0.05
    assert gru["resamples_used"] > 900
    for budget in BUDGETS:
        fit = _budget(result, "gru", budget)
        assert fit["used"] and fit["refusal"] is None
        low, high = fit["n_opt_ci"]
        assert low <= fit["n_opt"] <= high
        assert low <= true_n_opt(budget) <= high, (budget, fit["n_opt_ci"], true_n_opt(budget))
        assert min(fit["sizes"]) < fit["n_opt"] < max(fit["sizes"])
        # the parabola's minimum: its derivative vanishes there, and it lies at or below every fitted value
        c2, c1, c0 = fit["coeffs"]
        u = math.log10(fit["n_opt"])
        assert c2 > 0 and abs(2 * c2 * u + c1) < 1e-9
        assert fit["loss_opt"] == pytest.approx(np.polyval(fit["coeffs"], u))
    # L_opt falls with compute: b < 0, and the law passes through the minima it was fitted to
    loss_law = gru["loss_law"]
    assert loss_law["b"] < 0 and loss_law["b_ci"][0] <= loss_law["b"] <= loss_law["b_ci"][1]
    minima = [_budget(result, "gru", c)["loss_opt"] for c in BUDGETS]
    predicted = [10 ** (loss_law["b"] * math.log10(c) + loss_law["k"]) for c in BUDGETS]
    assert np.allclose(predicted, minima, rtol=0.02)


def test_budgets_that_cannot_be_fitted_are_named_and_left_out(tmp_path):
    result = _fit(known_law_sweep(tmp_path))
    problems = result["problems"]
    edge, few, bent = (_budget(result, "gru", c) for c in (3e18, 5e14, 3e16))
    assert "above the largest size run" in edge["refusal"] and edge["n_opt"] is None
    assert "2 size(s), 3 needed" in few["refusal"] and few["coeffs"] is None
    assert "opens downward" in bent["refusal"] and bent["coeffs"][0] < 0
    for fit in (edge, few, bent):
        assert not fit["used"] and fit["refusal"] in problems
    assert all("\n" not in line for line in problems)
    # llama's budgets come from its runs' FLOPs (a hair above the budget): 1e16 and 1e17
    llama = [b for b in result["budgets"] if b["family"] == "llama"]
    assert [(b["budget"], b["budget_source"], len(b["runs"])) for b in llama] == [(1e16, "flops", 5), (1e17, "flops", 2)]
    law = next(f for f in result["families"] if f["family"] == "llama")
    assert law["n_opt_law"] is None and law["refusal"] == "llama: 1 usable budget(s), 2 needed: no power law"


def test_bootstrap_draws_keep_three_sizes_and_reproduce_with_the_seed():
    sizes = np.array([1.0, 2.0, 4.0, 8.0, 8.0])
    counts = scaling.resample_counts(sizes, 500, np.random.default_rng(3))
    assert counts.shape == (500, 5) and (counts.sum(axis=1) == 5).all()
    distinct = (counts[:, :3] > 0).sum(axis=1) + (counts[:, 3:].sum(axis=1) > 0)  # 8.0 twice: one size
    assert (distinct >= 3).all()
    again = scaling.resample_counts(sizes, 500, np.random.default_rng(3))
    assert (again == counts).all()
    # a draw given up on (all zeros) has no parabola and no minimum; the others are exact for exact data
    u = np.log10(sizes)
    coeffs = scaling.parabolas(u, 2 * u ** 2 - u + 3, np.vstack([counts[:2], np.zeros(5)]))
    assert np.allclose(coeffs[:2], [2, -1, 3]) and np.isnan(coeffs[2]).all()
    found = scaling.minima(coeffs, center=0.0)
    assert np.allclose(found[:2], [0.25, 3 - 1 / 8]) and np.isnan(found[2]).all()


def test_the_command_writes_json_and_both_figures(tmp_path):
    sweep = known_law_sweep(tmp_path)
    out = tmp_path / "fit"
    result = run_cli("scaling", str(sweep), "--out", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"found {len(list(sweep.iterdir()))} run(s)" in result.stderr
    assert "gru at C=3e18: the minimum" in result.stderr and "gru at C=5e14: 2 size(s)" in result.stderr
    saved = json.loads((out / "scaling.json").read_text())
    assert saved == json.loads(json.dumps(_fit(sweep)))  # the same fit, the same draws
    for png in ("scaling_isoflop.png", "scaling_laws.png"):
        assert (out / png).read_bytes()[:4] == b"\x89PNG"
    assert "N_opt" in result.stdout and "gru" in result.stdout and "llama" in result.stdout


def test_nothing_to_fit_is_one_error_line(tmp_path):
    sweep = tmp_path / "sweep"
    sizes = np.array([1e5, 4e5])
    _ladder(sweep, "gru", 1e15, sizes, law_loss(sizes, 1e15))
    result = run_cli("scaling", str(sweep), "--out", str(tmp_path / "fit"), cwd=tmp_path)
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [line for line in result.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and "nothing to fit" in errors[0] and "2 size(s), 3 needed" in errors[0]
    assert not (tmp_path / "fit").exists()  # nothing half-written
    result = run_cli("scaling", str(sweep), "--metric", "val_acc", cwd=tmp_path)
    assert result.returncode == 2 and "--metric must be a loss" in result.stderr



def test_each_isoflop_experiment_sweeps_three_budgets_by_five_widths_of_its_family():
    """Read without composing (the suite's seconds): a width key the family's preset has, five
    widths, three budgets, one torch thread per run."""
    import yaml

    conf = Path(__file__).resolve().parents[1] / "conf"
    for family, width in (("gru", "hidden_size"), ("transformer", "n_embd"), ("mingru", "n_embd")):
        experiment = yaml.safe_load((conf / "experiment" / f"isoflop_{family}.yaml").read_text())
        assert experiment["defaults"][0] == {"override /model": family}
        assert width in yaml.safe_load((conf / "model" / f"{family}.yaml").read_text())
        params = experiment["hydra"]["sweeper"]["params"]
        assert set(params) == {"trainer.flops_budget", f"model.{width}"}
        budgets = [float(b) for b in params["trainer.flops_budget"].split(",")]
        widths = [int(w) for w in params[f"model.{width}"].split(",")]
        assert budgets == sorted(budgets) and len(budgets) == 3 and len(widths) == len(set(widths)) == 5
        assert experiment["threads"] == 1 and experiment["task"]["seq_len"] == 100
