"""Resume, interruption, atomic checkpoints, divergence, and one clear error per bad input."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import TINY, TINY_TRAINER, run_cli, write_corpus
from safetensors.torch import load_file


def only_run(root: Path) -> Path:
    runs = [p for p in (root / "outputs").glob("*/*") if p.is_dir()]
    assert len(runs) == 1, runs
    return runs[0]


def last_weights(run: Path) -> dict:
    pointer = json.loads((run / "checkpoint" / "last.json").read_text())
    return load_file(str(run / "checkpoint" / pointer["dir"] / "model.safetensors"))


def losses(run: Path) -> list[tuple]:
    return [(r["step"], r["train_loss"], r.get("val_loss"))
            for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())]


def assert_same_run(a: Path, b: Path) -> None:
    wa, wb = last_weights(a), last_weights(b)
    assert wa.keys() == wb.keys()
    for name in wa:
        assert (wa[name] == wb[name]).all(), f"{name} differs"
    assert losses(a) == losses(b)


RUN = [*TINY, "trainer.max_steps=40", "trainer.eval_every=20", "model.dropout=0.1", "model.num_layers=2"]


@pytest.fixture(scope="module")
def uninterrupted(corpus, tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("straight")
    result = run_cli("train", f"task.source={corpus}", *RUN, cwd=work)
    assert result.returncode == 0, result.stderr
    return only_run(work)


@pytest.mark.slow
def test_resume_is_bit_exact(corpus, tmp_path, uninterrupted):
    first = run_cli("train", f"task.source={corpus}", *RUN, "trainer.max_steps=20", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    run = only_run(tmp_path)
    again = run_cli("resume", str(run), "trainer.max_steps=40", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert_same_run(run, uninterrupted)
    assert json.loads((run / "summary.json").read_text())["steps"] == 40


@pytest.mark.slow
def test_sigint_stops_cleanly_and_resume_matches(corpus, tmp_path, uninterrupted, warm_seqlab):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200"}
    slow = [*RUN, "trainer.checkpoint_every=1"]  # a checkpoint per step: slow enough to hit mid-run
    proc = warm_seqlab.start(["train", f"task.source={corpus}", *slow], tmp_path, env)
    metrics = None
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        found = list(tmp_path.glob("outputs/*/*/metrics.jsonl"))
        if found and found[0].read_text().count("\n") >= 1:
            metrics = found[0]
            break
        time.sleep(0.05)
    assert metrics is not None, "training never started"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    run = metrics.parent
    summary = json.loads((run / "summary.json").read_text())
    if summary["status"] == "completed":
        pytest.skip("the run finished before the signal arrived")
    assert proc.returncode == 130, err
    assert summary["status"] == "interrupted"
    assert f"seqlab resume {run}" in " ".join(err.split())
    result = run_cli("resume", str(run), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert_same_run(run, uninterrupted)


@pytest.mark.slow
def test_sigterm_exits_143(corpus, tmp_path, warm_seqlab):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = warm_seqlab.start(["train", f"task.source={corpus}", *TINY, "trainer.max_steps=100000",
                              "trainer.eval_every=100000"], tmp_path, env)
    deadline = time.time() + 120
    # metrics.jsonl exists (empty) from the run's start: wait for its first record
    while time.time() < deadline and not any(p.stat().st_size for p in tmp_path.glob("outputs/*/*/metrics.jsonl")):
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=120)
    assert proc.returncode == 143
    run = only_run(tmp_path)
    assert json.loads((run / "summary.json").read_text())["status"] == "interrupted"
    assert (run / "checkpoint" / "last.json").exists() and (run / "loss.png").exists()


@pytest.mark.slow
def test_kill_9_during_checkpoint_writes_leaves_a_loadable_checkpoint(corpus, tmp_path, warm_seqlab):
    from seqlab.runs.checkpoint import load_checkpoint

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    rng = random.Random(0)
    for trial in range(4):
        work = tmp_path / f"t{trial}"
        work.mkdir()
        proc = warm_seqlab.start(["train", f"task.source={corpus}", *TINY, "trainer.max_steps=100000",
                                  "trainer.eval_every=100000", "trainer.checkpoint_every=1", "trainer.keep_last=2"],
                                 work, env)
        deadline = time.time() + 120
        while time.time() < deadline and not list(work.glob("outputs/*/*/checkpoint/last.json")):
            time.sleep(0.02)
        time.sleep(rng.uniform(0.05, 0.5))  # somewhere in a stream of checkpoint writes
        proc.kill()
        proc.wait()
        ckpt = load_checkpoint(only_run(work))
        assert ckpt.meta["step"] >= 1


@pytest.mark.slow
def test_non_finite_loss_stops_as_diverged(corpus, tmp_path):
    result = run_cli("train", f"task.source={corpus}", *TINY, "trainer.lr=1e37", "trainer.grad_clip=0",
                     "trainer.eval_every=1", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    summary = json.loads((only_run(tmp_path) / "summary.json").read_text())
    assert summary["status"] == "diverged"
    assert f"diverged at step {summary['steps']}" in " ".join(result.stderr.split())


def test_same_second_runs_get_separate_folders(tmp_path):
    from seqlab.runs.folder import reserve_folder

    pattern = str(tmp_path / "outputs" / "2026-01-01" / "12-00-00_gru_tinystories")
    folders = {reserve_folder(pattern) for _ in range(3)}
    assert len(folders) == 3 and all(p.is_dir() for p in folders)


def test_plot_failure_is_only_a_warning(tmp_path, monkeypatch):
    from seqlab.plots import loss as plots
    from seqlab.runs.writer import RunDir

    def broken(*args, **kwargs):
        raise RuntimeError("no display")

    monkeypatch.setattr(plots, "plot_loss_curves", broken)
    with pytest.warns(UserWarning, match="could not draw"):
        RunDir(tmp_path).plot_losses([{"step": 1, "train_loss": 1.0}])


def one_line_exit_2(result: subprocess.CompletedProcess, words: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert words in result.stderr, result.stderr


def refused_without_debris(result: subprocess.CompletedProcess, words: str, cwd: Path) -> None:
    """A refused run: one line, exit 2, and no run folder (nor date folder) left in outputs/."""
    one_line_exit_2(result, words)
    left = [p for p in (cwd / "outputs").rglob("*")] if (cwd / "outputs").exists() else []
    assert not left, left


@pytest.mark.parametrize("overrides, words", [
    (["model=lstmm"], "available:"),
    (["task=nope"], "tinystories"),
    (["trainer.bogus=1"], "bogus"),
    (["model.num_layers=two"], "num_layers"),
    (["model.hidden_size=-4"], "model.hidden_size must be positive"),
    (["trainer.batch_size=0"], "trainer.batch_size must be positive"),
    (["trainer.lr=-0.1"], "trainer.lr must be positive"),
    (["device=mps"], "available: cpu"),
    (["task.seq_len=100000"], "needs at least"),
    (["model.embed_size=16", "model=transformer"], "embed_size"),
])
def test_bad_training_input(corpus, tmp_path, overrides, words):
    refused_without_debris(run_cli("train", f"task.source={corpus}", *TINY, *overrides, cwd=tmp_path), words,
                           tmp_path)


@pytest.mark.parametrize("overrides, words", [
    (["device=cuda"], "device 'cuda' is not available here"),
    (["trainer.precision=fp8"], "trainer.precision must be one of fp32, bf16"),
    (["model.name=nope"], "unknown model 'nope'"),
    (["model=seq2seq_rnn"], "cannot serve task 'tinystories'"),
    (["trainer.resume=nowhere"], "no such run folder or checkpoint: 'nowhere'"),
    (["trainer.resume=."], "is not a seqlab run folder"),
])
def test_refused_runs_leave_no_folder(corpus, tmp_path, monkeypatch, overrides, words):
    """In-process (fast): the checks that need no data run before any folder is made."""
    from seqlab.errors import SeqlabError
    from seqlab.launch.command import run_train

    monkeypatch.chdir(tmp_path)
    with pytest.raises(SeqlabError, match=re.escape(words)):
        run_train([f"task.source={corpus}", *TINY, *overrides])
    assert not (tmp_path / "outputs").exists()


@pytest.mark.parametrize("overrides, words", [
    (["model.n_head=3"], "not a multiple of model.n_head"),
    (["task.seq_len=200"], "exceeds model.block_size"),
])
def test_bad_transformer_settings(corpus, tmp_path, overrides, words):
    refused_without_debris(run_cli("train", f"task.source={corpus}", *TINY_TRAINER, "model=transformer", *overrides,
                                   cwd=tmp_path), words, tmp_path)


def test_missing_data_path(tmp_path):
    refused_without_debris(run_cli("train", f"task.source={tmp_path / 'nowhere'}", *TINY, cwd=tmp_path),
                           "no such folder", tmp_path)


def test_data_file_not_utf8(tmp_path):
    folder = write_corpus(tmp_path / "bad", 20, 5)
    (folder / "train.jsonl").write_bytes(b'{"text": "caf\xe9 \xff\xfe"}\n' * 50)
    refused_without_debris(run_cli("train", f"task.source={folder}", *TINY, cwd=tmp_path), "UTF-8", tmp_path)


def test_resume_without_checkpoint(tmp_path):
    run = tmp_path / "run"
    (run / ".hydra").mkdir(parents=True)
    (run / "config.yaml").write_text("{}\n")
    (run / ".hydra" / "overrides.yaml").write_text("[]\n")
    one_line_exit_2(run_cli("resume", str(run), cwd=tmp_path), "has no last checkpoint")


def test_resume_not_a_run_folder(tmp_path):
    one_line_exit_2(run_cli("resume", str(tmp_path), cwd=tmp_path), "not a seqlab run folder")


def test_debug_shows_the_traceback(corpus, tmp_path):
    result = run_cli("--debug", "train", f"task.source={corpus}", *TINY, "trainer.max_steps=0", cwd=tmp_path)
    assert result.returncode != 0 and "Traceback" in result.stderr
