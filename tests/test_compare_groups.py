"""`seqlab compare --best-over / --x CONFIG_KEY / --group / --baseline`, on run folders written
directly (no training): the best learning rate per width, final metric against a config key,
seeds pooled into mean, std and a Student t interval, Welch's test against a baseline."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest
from conftest import run_cli

from seqlab.analysis import groups
from seqlab.analysis.compare import METRICS, compare_command
from seqlab.analysis.stats import summarize, t_quantile, welch_p
from seqlab.runs.reader import load_run


@pytest.fixture(autouse=True)
def wide(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # rich tables at full width in captured output


def _run(folder: Path, model: str, *, final: float, seed: int = 1337, lr: float = 0.001,
         n_embd: int | None = None) -> Path:
    """A finished run folder as the trainer leaves it: config, two evaluations, summary.json.
    `final` is both its final val_acc and its final val_loss (one number, either direction)."""
    folder.mkdir(parents=True)
    width = f"  n_embd: {n_embd}\n" if n_embd is not None else ""
    (folder / "config.yaml").write_text(f"model:\n  name: {model}\n{width}task:\n  name: copy\n"
                                        f"trainer:\n  lr: {lr}\nseed: {seed}\n")
    records = [{"step": 10, "tokens": 80, "val_loss": final * 2, "val_acc": final / 2},
               {"step": 20, "tokens": 160, "val_loss": final, "val_acc": final}]
    (folder / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n")
    (folder / "summary.json").write_text(json.dumps({
        "status": "completed", "steps": 20, "best_val_loss": final, "final_val_loss": final, "final_val_acc": final}))
    return folder


def _csv(folder: Path) -> list[dict[str, str]]:
    with open(folder / "compare.csv", newline="") as f:
        return list(csv.DictReader(f))


def _row(stdout: str, first: str) -> list[str]:
    """The cells of the terminal table's row that starts with `first`."""
    line = next(line for line in stdout.splitlines() if line.startswith(f"│ {first} "))
    return [cell.strip() for cell in line.split("│")[1:-1]]


# final val_acc of each (width, lr): the best lr is 0.01 at width 64, 0.003 at width 128.
WIDTH_LR = {(64, 0.001): 0.50, (64, 0.003): 0.55, (64, 0.01): 0.60,
            (128, 0.001): 0.62, (128, 0.003): 0.70, (128, 0.01): 0.40}


def test_best_over_keeps_the_best_lr_per_width_and_says_how_many(tmp_path):
    sweep = tmp_path / "sweep"
    for i, ((width, lr), final) in enumerate(WIDTH_LR.items()):
        _run(sweep / f"{i}_transformer_copy", "transformer", final=final, lr=lr, n_embd=width)
    result = run_cli("compare", str(sweep), "--best-over", "trainer.lr", "--metric", "val_acc",
                     "--out", str(tmp_path / "acc"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "--best-over trainer.lr: kept 2 of 6 run(s)" in result.stderr
    kept = [(r["model.n_embd"], r["trainer.lr"], r["val acc"]) for r in _csv(tmp_path / "acc")]
    assert kept == [("128", "0.003", "0.7"), ("64", "0.01", "0.6")]  # highest accuracy per width, best first
    # A loss is best lowest; a key may be named by its last part when no other key ends so.
    result = run_cli("compare", str(sweep), "--best-over", "lr", "--out", str(tmp_path / "loss"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "kept 2 of 6 run(s)" in result.stderr
    assert {(r["model.n_embd"], r["trainer.lr"]) for r in _csv(tmp_path / "loss")} == {("64", "0.001"),
                                                                                         ("128", "0.01")}


def _width_sweep(root: Path) -> Path:
    """Two models x three widths x two learning rates; which lr is best depends on model and width."""
    sweep = root / "sweep"
    i = 0
    for model, bonus in (("transformer", 0.0), ("llama", 0.05)):
        for width in (256, 64, 128):  # written out of order: the plot sorts by x
            for lr in (0.001, 0.01):
                better = (lr == 0.01) == (width == 64)
                _run(sweep / f"{i}_{model}_copy", model, final=width / 1000 + bonus + (0.3 if better else 0.1),
                     lr=lr, n_embd=width)
                i += 1
    return sweep


def test_x_config_key_plots_the_best_runs_one_line_per_group(tmp_path, monkeypatch):
    import seqlab.plots as plotting

    sweep = _width_sweep(tmp_path)
    result = run_cli("compare", str(sweep), "--best-over", "trainer.lr", "--x", "model.n_embd", "--group", "model",
                     "--metric", "val_acc", "--log", "--out", str(tmp_path / "cli"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "kept 6 of 12 run(s)" in result.stderr
    assert (tmp_path / "cli" / "compare.png").read_bytes()[:4] == b"\x89PNG"
    assert len(_csv(tmp_path / "cli")) == 6  # the table: the runs kept, as before

    spec = METRICS["val_acc"]
    runs = [load_run(p, print) for p in sorted(sweep.iterdir())]
    kept, _ = groups.keep_best(runs, ("trainer.lr",), spec)
    points = groups.final_points(kept, "model.n_embd", "model", spec, print)
    best = {w: w / 1000 + 0.3 for w in (64, 128, 256)}  # the better lr's accuracy at each width
    assert points == {"llama": [(w, pytest.approx(best[w] + 0.05)) for w in (64, 128, 256)],
                      "transformer": [(w, pytest.approx(best[w])) for w in (64, 128, 256)]}

    drawn = []
    real = plotting.save_figure

    def spy(fig, path, **kw):
        ax = fig.axes[0]
        drawn.append((ax.get_xscale(), [t.get_text() for t in ax.get_legend().get_texts()],
                      sorted(tuple(line.get_xdata()) for line in ax.get_lines())))
        return real(fig, path, **kw)

    monkeypatch.setattr(plotting, "save_figure", spy)
    compare_command([str(sweep)], "model.n_embd", "val_acc", 0.6, True, tmp_path / "direct",
                    best_over=["trainer.lr"], group="model")
    assert drawn == [("log", ["llama", "transformer"], [(64, 128, 256), (64, 128, 256)])]


def _seed_runs(root: Path, finals: dict[str, list[float]]) -> Path:
    runs = root / "runs"
    i = 0
    for model, values in finals.items():
        for seed, final in enumerate(values):
            _run(runs / f"{i}_{model}_copy", model, final=final, seed=seed)
            i += 1
    return runs


def test_group_pools_seeds_into_mean_std_and_a_t_interval(tmp_path):
    runs = _seed_runs(tmp_path, {"gru": [1.0, 2.0, 3.0], "lstm": [2.0, 2.5, 3.0, 3.5], "rnn": [1.5, 2.5]})
    result = run_cli("compare", str(runs), "--group", "model", "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    # By hand: mean 2, sample std 1, t_{0.975, 2} = 4.3027 -> half-width 4.3027 / sqrt(3) = 2.4841.
    assert _row(result.stdout, "gru") == ["gru", "3", "2.0000", "1.0000", "2.4841", "[-0.4841, 4.4841]", ""]
    rnn = _row(result.stdout, "rnn")
    assert rnn[1] == "2" and rnn[-1] == "n < 3: interval not meaningful"
    assert "runs that differ only by seed pooled" in result.stdout
    md = (tmp_path / "out" / "compare.md").read_text()
    assert "| model | n | mean | std | ± 95% | 95% interval | note |" in md
    assert "| gru | 3 | 2.0000 | 1.0000 | 2.4841 | [-0.4841, 4.4841] |  |" in md
    assert "n < 3: interval not meaningful" in md
    rows = _csv(tmp_path / "out")
    assert len(rows) == 9  # still one row per run, with its group's statistics
    gru = {k: r[k] for r in rows if r["group"] == "gru" for k in ("group n", "group mean", "group std", "group ci low")}
    assert gru["group n"] == "3" and float(gru["group mean"]) == 2.0 and float(gru["group std"]) == 1.0
    assert float(gru["group ci low"]) == pytest.approx(2 - 4.302652729749462 / math.sqrt(3), rel=1e-12)


def test_baseline_adds_welch_p_values(tmp_path):
    finals = {"gru": [0.70, 0.74, 0.69, 0.71], "lstm": [0.80, 0.82, 0.81], "rnn": [0.75]}
    runs = _seed_runs(tmp_path, finals)
    result = run_cli("compare", str(runs), "--group", "model", "--baseline", "gru", "--metric", "val_acc",
                     "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Welch's t-test (two-sided) against model=gru" in result.stdout
    # scipy.stats.ttest_ind(lstm, gru, equal_var=False) (scipy 1.17.1, computed once):
    # statistic 8.164965809277271, df 4.418181818181806, pvalue 0.0007927395822877501.
    lstm, gru, rnn = (_row(result.stdout, m) for m in ("lstm", "gru", "rnn"))
    assert lstm[0] == "lstm" and lstm[-2] == "0.000793" and gru[-2] == "baseline"
    assert rnn[-2] == "-" and rnn[-1] == "n < 3: interval not meaningful"  # one run: no test, no interval
    p = {r["group"]: r["group p"] for r in _csv(tmp_path / "out")}
    assert float(p["lstm"]) == pytest.approx(0.0007927395822877501, rel=1e-9) and p["gru"] == p["rnn"] == ""


def test_statistics_match_reference_values():
    # scipy.stats (1.17.1), computed once: t.ppf(0.975, 2), t.ppf(0.975, 1), t.ppf(0.975, 30) and
    # ttest_ind([1, 2, 3], [4, 5, 6, 7], equal_var=False).pvalue.
    assert t_quantile(0.975, 2) == pytest.approx(4.302652729749462, rel=1e-10)
    assert t_quantile(0.975, 1) == pytest.approx(12.706204736174694, rel=1e-10)
    assert t_quantile(0.975, 30) == pytest.approx(2.0422724563012378, rel=1e-10)
    assert welch_p([1, 2, 3], [4, 5, 6, 7]) == pytest.approx(0.01007694334798886, rel=1e-10)
    s = summarize([1.0, 2.0, 3.0])
    assert (s.n, s.mean, s.std) == (3, 2.0, 1.0) and s.half_width == pytest.approx(2.484137711750301, rel=1e-10)
    assert summarize([5.0]).half_width is None and welch_p([1.0], [2.0, 3.0]) is None


@pytest.mark.parametrize("args, message", [
    (["--best-over", "trainer.nope"], "--best-over must be a config key of the runs"),
    (["--group", "colour"], "--group must be a config key of the runs"),
    (["--x", "model.width"], "--x must be one of step, tokens, time, flops or a config key of the runs"),
    (["--baseline", "gru"], "--baseline names the group to test the others against"),
    (["--group", "model", "--baseline", "mamba"], "--baseline mamba is no value of --group model; its values: gru, lstm"),
])
def test_user_mistakes_are_one_error_line(tmp_path, args, message):
    runs = _seed_runs(tmp_path, {"gru": [1.0, 2.0], "lstm": [3.0]})
    result = run_cli("compare", str(runs), *args, cwd=tmp_path)
    assert result.returncode == 2
    lines = [line for line in result.stderr.strip().splitlines() if not line.startswith("found ")]
    assert len(lines) == 1 and lines[0].startswith(f"error: {message}"), result.stderr
