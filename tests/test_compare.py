"""`seqlab compare`: two runs, a sweep folder, a glob, broken and still-running runs, no run at all."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from conftest import TINY_TRAINER, run_cli

from seqlab.analysis.compare import compare_command
from seqlab.errors import SeqlabError
from seqlab.runs.reader import Run, differing_keys, flatten, name_runs


@pytest.fixture(scope="module")
def sweep(corpus, tmp_path_factory) -> Path:
    """One Hydra sweep of two tiny GRUs that differ only in hidden_size."""
    work = tmp_path_factory.mktemp("sweep")
    result = run_cli("train", "-m", f"task.source={corpus}", *TINY_TRAINER, "model.embed_size=16",
                     "model.hidden_size=8,16", cwd=work)
    assert result.returncode == 0, result.stderr
    folders = list((work / "outputs" / "multirun").glob("*/*"))
    assert len(folders) == 1, folders
    assert len(list(folders[0].glob("*_gru_tinystories"))) == 2
    return folders[0]


@pytest.fixture(autouse=True)
def wide(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # rich tables at full width in captured output


def _csv(folder: Path) -> list[dict[str, str]]:
    with open(folder / "compare.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_two_runs_table_plot_md_csv(sweep, tmp_path, capsys):
    runs = sorted(str(p) for p in sweep.glob("*_gru_tinystories"))
    out = compare_command(runs, "step", "val_loss", 0.9, False, tmp_path / "cmp")
    printed = capsys.readouterr().out
    assert out == tmp_path / "cmp" and str(out) in printed
    for name in ("gru tinystories hidden_size=8", "gru tinystories hidden_size=16"):
        assert name in printed
    assert "hidden_size" in printed and "embed_size" not in printed  # only the differing keys
    assert (out / "compare.png").read_bytes()[:4] == b"\x89PNG"
    md = (out / "compare.md").read_text()
    assert "| name | hidden_size | params |" in md and "hidden_size=16" in md
    rows = _csv(out)  # the CSV names the key in full
    assert sorted(r["model.hidden_size"] for r in rows) == ["16", "8"]
    losses = [float(r["best val loss"]) for r in rows]
    assert losses == sorted(losses)  # sorted by the metric, lower first
    summaries = {json.loads((Path(r["path"]) / "summary.json").read_text())["best_val_loss"] for r in rows}
    assert set(losses) == summaries
    assert {r["status"] for r in rows} == {"completed"} and all(int(r["params"]) > 0 for r in rows)


@pytest.mark.slow
def test_sweep_folder_by_cli_writes_to_a_new_folder_not_the_sweep(sweep, tmp_path):
    result = run_cli("compare", str(sweep), "--x", "tokens", "--metric", "val_bpc", "--log", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "hidden_size=8" in result.stdout and "hidden_size=16" in result.stdout
    assert f"found 2 run(s) in {sweep}" in result.stderr
    written = list((tmp_path / "outputs" / "compare").glob("*/*/compare.png"))
    assert len(written) == 1 and written[0].read_bytes()[:4] == b"\x89PNG"
    assert len(_csv(written[0].parent)) == 2 and "warning" not in result.stderr
    assert not (sweep / "compare.png").exists()  # the folder read is left as it was


@pytest.mark.slow
def test_quoted_glob_and_other_axes(sweep, tmp_path, capsys):
    out = compare_command([f"{sweep}/*_gru_*"], "flops", "train_loss", 0.5, True, tmp_path / "g")
    assert len(_csv(out)) == 2 and "final train" in capsys.readouterr().out
    compare_command([str(sweep)], "time", "val_loss", 0.0, False, tmp_path / "t")
    assert (tmp_path / "t" / "compare.png").exists()


@pytest.mark.slow
def test_broken_and_unfinished_runs_warn_not_crash(sweep, tmp_path, capsys):
    runs = sorted(sweep.glob("*_gru_tinystories"))
    torn, crashed = tmp_path / "torn", tmp_path / "crashed"
    shutil.copytree(runs[0], torn)
    (torn / "summary.json").unlink()  # still running: no summary yet, and a half-written line
    with open(torn / "metrics.jsonl", "a") as f:
        f.write('{"step": 35, "tokens": 56')
    shutil.copytree(runs[1], crashed)
    (crashed / "summary.json").write_text("{not json")
    (crashed / "metrics.jsonl").unlink()
    only_config = tmp_path / "started"  # died right after writing its config
    only_config.mkdir()
    shutil.copy(runs[1] / "config.yaml", only_config / "config.yaml")

    out = compare_command([str(torn), str(crashed), str(only_config)], "step", "val_loss", 0.9, False,
                          tmp_path / "out")
    captured = capsys.readouterr()
    assert "warning" in captured.err and "Traceback" not in captured.err
    assert "unreadable line" in captured.err and "summary.json" in captured.err
    assert "no metrics.jsonl" in captured.err
    rows = {Path(r["path"]).name: r for r in _csv(out)}
    assert rows["torn"]["status"] == "incomplete"
    # Filled from metrics.jsonl as far as it goes (the torn line is skipped).
    assert int(rows["torn"]["steps"]) == 30 and float(rows["torn"]["best val loss"]) > 0
    assert int(rows["torn"]["params"]) > 0  # from flops.json
    assert rows["crashed"]["best val loss"] == "" and rows["started"]["status"] == "incomplete"
    assert (out / "compare.png").exists()


def test_folder_without_runs_is_one_error_line(tmp_path):
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / "notes.txt").write_text("hi")
    result = run_cli("compare", str(tmp_path / "empty"), cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "holds no seqlab run" in lines[0]


def test_bad_arguments_are_errors(tmp_path):
    with pytest.raises(SeqlabError, match="no such run folder"):
        compare_command([str(tmp_path / "missing")], "step", "val_loss", 0.9, False, None)
    with pytest.raises(SeqlabError, match="no run folder matches"):
        compare_command([str(tmp_path / "nothing*")], "step", "val_loss", 0.9, False, None)
    with pytest.raises(SeqlabError, match="--x"):
        compare_command([str(tmp_path)], "epoch", "val_loss", 0.9, False, None)
    with pytest.raises(SeqlabError, match="--smooth"):
        compare_command([str(tmp_path)], "step", "val_loss", 1.0, False, None)


def _run(name: str, config: dict) -> Run:
    flat = flatten(config)
    return Run(Path(f"/x/{name}"), flat, {}, [], flat.get("model.name", "?"), "tinystories")


def test_differing_keys_and_names():
    common = {"task": {"name": "tinystories", "cache_dir": "/a"}, "trainer": {"resume": None, "lr": 0.001}}
    runs = [
        _run("0_rnn", {"model": {"name": "rnn", "hidden_size": 8, "nonlinearity": "tanh"}, **common}),
        _run("1_gru", {"model": {"name": "gru", "hidden_size": 8}, **common,
                       "trainer": {"resume": "/r", "lr": 0.01}}),
        _run("2_gru", {"model": {"name": "gru", "hidden_size": 8}, **common,
                       "trainer": {"resume": None, "lr": 0.01}}),
    ]
    runs[0].config["task.cache_dir"] = "/b"
    keys = differing_keys([r.config for r in runs])
    # model.name is in the name already; resume and cache_dir never tell runs apart; an RNN-only key
    # with one value does not either.
    assert keys == ["trainer.lr"]
    name_runs(runs, keys)
    assert runs[0].name == "rnn tinystories lr=0.001"
    assert runs[1].name == "gru tinystories lr=0.01 [1_gru]"  # identical configs: folder names added
    assert runs[2].name == "gru tinystories lr=0.01 [2_gru]"


def _fake_run(folder: Path, hidden: int, evals: list[int], steps: int = 40) -> Path:
    """A finished run folder as the trainer leaves it (config, metrics, summary), written directly."""
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text(f"model:\n  name: gru\n  hidden_size: {hidden}\ntask:\n  name: copy\n")
    records = [{"step": s, "tokens": 8 * s, "flops": 1e6 * s, "train_loss": 2.0 / s} for s in range(1, steps + 1)]
    for r in records:
        if r["step"] in evals:
            r["val_loss"] = 1.0 / hidden + 1.0 / r["step"]
    (folder / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n")
    last = 1.0 / hidden + 1.0 / evals[-1]
    (folder / "summary.json").write_text(json.dumps({"status": "completed", "best_val_loss": last,
                                                     "final_val_loss": last, "steps": steps}))
    return folder


def test_discovery_searches_the_whole_tree_and_reports_what_it_skipped(tmp_path, capsys):
    outputs = tmp_path / "outputs"
    _fake_run(outputs / "2026-11-26" / "10-00-00_gru_copy", 8, [20, 40])
    for i, hidden in enumerate((16, 32, 64)):  # outputs/multirun/<date>/<time>/<n>_...: 4 levels down
        _fake_run(outputs / "multirun" / "2026-11-26" / "11-00-00" / f"{i}_gru_copy", hidden, [20, 40])
    (outputs / "analysis").mkdir()
    out = compare_command([str(outputs)], "flops", "val_loss", 0.6, True, None)
    err = capsys.readouterr().err
    assert f"found 4 run(s) in {outputs}" in err
    assert "skipped 1 folder(s)" in err and str(outputs / "analysis") in err
    assert len(_csv(out)) == 4
    assert not (outputs / "compare.png").exists() and (out / "compare.png").exists()


def test_one_evaluation_per_run_draws_bars(tmp_path, monkeypatch):
    import seqlab.analysis.compare_plot as cp

    drawn = []
    monkeypatch.setattr(cp, "_bars", lambda ax, runs, points, *a: drawn.append(points))
    sweep = tmp_path / "sweep"
    for i, hidden in enumerate((8, 16)):
        _fake_run(sweep / f"{i}_gru_copy", hidden, [40])
    compare_command([str(sweep)], "step", "val_loss", 0.6, False, tmp_path / "out")
    assert len(drawn) == 1 and all(len(p) == 1 for p in drawn[0].values())


def test_log_on_a_flop_axis_logs_both_axes(tmp_path, monkeypatch):
    import seqlab.plots as plotting

    scales = []
    real = plotting.save_figure

    def spy(fig, path, **kw):
        ax = fig.axes[0]
        scales.append((ax.get_xscale(), ax.get_yscale(), ax.get_ylabel()))
        return real(fig, path, **kw)

    monkeypatch.setattr(plotting, "save_figure", spy)
    _fake_run(tmp_path / "runs" / "0_gru_copy", 8, [20, 40])
    compare_command([str(tmp_path / "runs")], "flops", "val_loss", 0.6, True, tmp_path / "o1")
    compare_command([str(tmp_path / "runs")], "step", "val_loss", 0.6, True, tmp_path / "o2")
    assert scales[0][:2] == ("log", "log") and scales[1][:2] == ("linear", "log")
    assert "nats / token" in scales[0][2]  # a synthetic task: tokens, not characters
