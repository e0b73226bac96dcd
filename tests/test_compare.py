"""`seqlab compare`: two runs, a sweep folder, a glob, broken and still-running runs, no run at all."""

from __future__ import annotations

import csv
import json
import math
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
    header = next(line for line in printed.splitlines() if "hidden" in line)
    assert "#" in header and "embed" not in header  # numbered runs, only the differing keys
    assert (out / "compare.png").read_bytes()[:4] == b"\x89PNG"
    md = (out / "compare.md").read_text()
    for name in ("gru tinystories hidden_size=8", "gru tinystories hidden_size=16"):
        assert name in md
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
    assert "hidden" in result.stdout and "val_bpc" in result.stdout
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
        compare_command([str(tmp_path)], "not a key", "val_loss", 0.9, False, None)
    _fake_run(tmp_path / "runs" / "0_gru_copy", 8, [20, 40])  # a word is a config key: checked against the runs
    with pytest.raises(SeqlabError, match="--x must be one of step, tokens, time, flops or a config key"):
        compare_command([str(tmp_path / "runs")], "epoch", "val_loss", 0.9, False, tmp_path / "out")
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


# --- eleven runs in 100 columns; tokenizers that differ; the plot's legend and ticks ------------

def _sweep_of_eleven(root: Path) -> Path:
    """A sweep folder of 11 finished runs that differ in six keys (and in two logged-only ones)."""
    import itertools

    sweep = root / "multirun" / "2026-11-26" / "14-00-00"
    combos = list(itertools.product(["gru", "lstm"], [64, 128, 256], [0.001, 0.003]))[:11]
    for i, (model, hidden, lr) in enumerate(combos):
        folder = sweep / f"{i}_{model}_tinystories"
        folder.mkdir(parents=True)
        (folder / "config.yaml").write_text(
            f"model:\n  name: {model}\n  hidden_size: {hidden}\n  num_layers: {1 + i % 2}\n  dropout: {0.1 * (i % 3):g}\n"
            f"task:\n  name: tinystories\n  seq_len: {20 * (1 + i % 2)}\n  tokenizer: char\n"
            f"trainer:\n  lr: {lr}\n  batch_size: {32 * (1 + i % 3)}\n  eval_every: {100 + i}\ndevice: cpu\n")
        records = [{"step": s, "tokens": 640 * s, "flops": 1e9 * s, "wall_s": s / 10, "train_loss": 3.0 / s ** 0.3}
                   for s in range(50, 1001, 50)]
        for r in records[3::4]:
            r["val_loss"] = 2.5 / r["step"] ** 0.1 + i / 100
            r["val_bpc"] = r["val_loss"] / math.log(2)
        (folder / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n")
        last = records[-1]["val_loss"]
        (folder / "summary.json").write_text(json.dumps({
            "status": "completed", "best_val_loss": last, "final_val_loss": last, "final_val_bpc": last / math.log(2),
            "final_val_bpb": last / math.log(2), "steps": 1000, "params": 100_000 * (i + 1), "tokens": 640_000,
            "tokens_per_s": 50_000.0 + i, "wall_s": 12.3, "flops": 1e12, "tokenizer": "char"}))
    return sweep


def test_eleven_runs_fit_100_columns_numbered_like_the_legend(tmp_path, monkeypatch):
    import seqlab.plots as plotting

    sweep = _sweep_of_eleven(tmp_path / "outputs")
    legends = []
    real = plotting.save_figure

    def spy(fig, path, **kw):
        fig.canvas.draw()
        ax, legend = fig.axes[0], fig.axes[0].get_legend()
        legends.append((ax.get_window_extent(), legend.get_window_extent(),
                        [t.get_text() for t in legend.get_texts()]))
        return real(fig, path, **kw)

    monkeypatch.setattr(plotting, "save_figure", spy)
    sweep = sweep.relative_to(tmp_path)  # as typed: outputs/multirun/<date>/<time>
    result = run_cli("compare", str(sweep), "--x", "flops", "--log", cwd=tmp_path, env={"COLUMNS": "100"})
    assert result.returncode == 0, result.stderr
    lines = (result.stdout + result.stderr).splitlines()
    assert max(map(len, lines)) <= 100, max(lines, key=len)
    header = next(line for line in lines if "hidden" in line)
    for key in ("#", "model", "hidden", "layers", "dropout", "seq_len", "lr", "batch", "best val loss", "status"):
        assert key in header
    rows = [line for line in lines if line.startswith("│")]
    assert [row.split("│")[1].strip() for row in rows] == [str(i) for i in range(1, 12)]
    assert any(line.startswith("not shown at 100 columns:") for line in lines)
    axes, legend, texts = legends[0]
    assert texts[0].startswith("1  gru hidden=64 layers=1") and len(texts[0]) <= 40
    assert not axes.overlaps(legend)  # outside the axes, never over a curve ...
    assert legend.width * legend.height < 0.67 * axes.width * axes.height  # ... and smaller than the plot
    wide = run_cli("compare", str(sweep), "--wide", cwd=tmp_path, env={"COLUMNS": "100"})
    assert "tokens/s" in wide.stdout and "eval_every" in wide.stdout and "not shown" not in wide.stdout


def test_log_axes_read_plain_numbers(tmp_path, monkeypatch):
    import seqlab.plots as plotting

    labels = []
    real = plotting.save_figure

    def spy(fig, path, **kw):
        fig.canvas.draw()
        ax = fig.axes[0]
        labels.extend(t.get_text() for axis in (ax.xaxis, ax.yaxis)
                      for t in axis.get_majorticklabels() + axis.get_minorticklabels())
        return real(fig, path, **kw)

    monkeypatch.setattr(plotting, "save_figure", spy)
    _fake_run(tmp_path / "runs" / "0_gru_copy", 8, [20, 40])  # val loss 0.15-0.18: less than a decade
    compare_command([str(tmp_path / "runs")], "flops", "val_loss", 0.6, True, tmp_path / "o")
    shown = [t for t in labels if t]
    assert shown and not [t for t in shown if "10^" in t or "×" in t or "$" in t], shown


def _tokenizer_run(folder: Path, tokenizer: str, loss: float, chars_per_token: float, bpb: bool = True) -> None:
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text(f"model:\n  name: gru\ntask:\n  name: tinystories\n  tokenizer: {tokenizer}\n")
    records = [{"step": s, "tokens": 100 * s, "train_loss": loss + 1 / s} for s in range(1, 11)]
    for r in records[4::5]:
        r["val_loss"] = loss + 1 / r["step"]
        r["val_bpc"] = r["val_loss"] / chars_per_token / math.log(2)
        if bpb:
            r["val_bpb"] = r["val_bpc"] * 0.98
    (folder / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n")
    (folder / "summary.json").write_text(json.dumps({"status": "completed", "steps": 10, "tokenizer": tokenizer}))


def test_runs_of_different_tokenizers_rank_by_bits_per_byte(tmp_path, monkeypatch):
    import seqlab.plots as plotting

    ylabels = []
    real = plotting.save_figure
    monkeypatch.setattr(plotting, "save_figure",
                        lambda fig, path, **kw: (ylabels.append(fig.axes[0].get_ylabel()), real(fig, path, **kw))[1])
    _tokenizer_run(tmp_path / "runs" / "0_gru_tinystories", "char", 1.4, 1.0)
    _tokenizer_run(tmp_path / "runs" / "1_gru_tinystories", "bpe", 3.5, 3.6)  # worse per token, better per byte
    result = run_cli("compare", str(tmp_path / "runs"), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "different tokenizers (bpe, char)" in result.stderr and "ranking by val_bpb" in result.stderr
    assert "sorted by val_bpb" in result.stdout
    assert [Path(r["path"]).name for r in _csv(tmp_path / "out")] == ["1_gru_tinystories", "0_gru_tinystories"]
    assert ylabels[-1] == "validation bits per UTF-8 byte (any tokenizer)"
    compare_command([str(tmp_path / "runs" / "1_gru_tinystories")], "step", "val_loss", 0.6, False, tmp_path / "b")
    assert ylabels[-1] == "validation cross-entropy (nats / token)"  # a BPE run alone: per token, not per char
    compare_command([str(tmp_path / "runs" / "0_gru_tinystories")], "step", "val_loss", 0.6, False, tmp_path / "c")
    assert ylabels[-1] == "validation cross-entropy (nats / char)"


def test_tokenizers_that_differ_without_a_common_unit_are_not_ranked(tmp_path):
    _tokenizer_run(tmp_path / "runs" / "0_gru_tinystories", "char", 1.4, 1.0, bpb=False)
    _tokenizer_run(tmp_path / "runs" / "1_gru_tinystories", "bpe", 3.5, 3.6, bpb=False)
    for path in (tmp_path / "runs").glob("*/metrics.jsonl"):  # runs from before bpc and bpb were logged
        path.write_text("\n".join(json.dumps({k: v for k, v in json.loads(line).items() if k != "val_bpc"})
                                  for line in path.read_text().splitlines()) + "\n")
    result = run_cli("compare", str(tmp_path / "runs"), cwd=tmp_path)
    (line,) = result.stderr.strip().splitlines()[-1:]
    assert result.returncode == 2 and line.startswith("error: the runs use different tokenizers (bpe, char)")
    assert "cannot rank them" in line
