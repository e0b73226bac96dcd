"""The CLI as a user runs it: train on a tiny corpus, then sample from the run folder."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml
from conftest import TINY, run_cli


def test_help_is_instant_and_torch_free():
    code = "import sys, seqlab.cli; assert 'torch' not in sys.modules and 'hydra' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
    out = subprocess.run([sys.executable, "-m", "seqlab", "--help"], capture_output=True, text=True)
    for command in ("train", "sample", "models", "tasks"):
        assert command in out.stdout


def test_each_command_help_has_an_example():
    for command in ("train", "sample", "models", "tasks"):
        out = subprocess.run([sys.executable, "-m", "seqlab", command, "--help"], capture_output=True,
                             text=True, env={"COLUMNS": "200", "PATH": ""})
        assert "Example: seqlab" in out.stdout, command


@pytest.mark.slow
def test_run_folder_is_complete(trained_run):
    names = {p.name for p in trained_run.iterdir()}
    assert {"config.yaml", "metrics.jsonl", "loss.png", "samples.txt", "checkpoint", "summary.json",
            ".hydra"} <= names
    config = yaml.safe_load((trained_run / "config.yaml").read_text())
    assert config["model"]["hidden_size"] == 32 and "${" not in (trained_run / "config.yaml").read_text()
    records = [json.loads(line) for line in (trained_run / "metrics.jsonl").read_text().splitlines()]
    for r in records:
        assert {"step", "tokens", "wall_s", "lr", "train_loss", "tokens_per_s"} <= r.keys()
    evals = [r for r in records if "val_loss" in r]
    assert [r["step"] for r in evals] == [15, 30]
    assert all("val_bpc" in r for r in evals)
    assert records[-1]["train_loss"] < records[0]["train_loss"]  # it learned
    summary = json.loads((trained_run / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["steps"] == 30
    for key in ("params", "tokens", "best_val_loss", "final_val_loss", "best_val_bpc", "tokens_per_s",
                "wall_s", "unknown_chars"):
        assert summary[key] is not None, key
    assert (trained_run / "loss.png").read_bytes()[:4] == b"\x89PNG"
    assert "=== step 30" in (trained_run / "samples.txt").read_text()


@pytest.mark.slow
def test_checkpoint_reloads(trained_run):
    from seqlab.runs.checkpoint import load_checkpoint

    ckpt = load_checkpoint(trained_run)
    assert ckpt.meta["step"] == 30
    assert sum(p.numel() for p in ckpt.model.parameters()) == ckpt.meta["params"]


@pytest.mark.slow
def test_sample_from_run_folder(trained_run, tmp_path):
    result = run_cli("sample", str(trained_run), "--prompt", "Once upon", "--max-new-tokens", "40",
                     "--seed", "3", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    text = result.stdout.rstrip("\n")
    assert text.startswith("Once upon") and len(text) == len("Once upon") + 40
    again = run_cli("sample", str(trained_run), "--prompt", "Once upon", "--max-new-tokens", "40",
                    "--seed", "3", cwd=tmp_path)
    assert again.stdout == result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("args, words", [
    (["--max-new-tokens", "0"], "--max-new-tokens"),
    (["--temperature", "nan"], "--temperature"),
    (["--top-p", "1.5"], "--top-p"),
    (["--top-k", "-1"], "--top-k"),
    (["--prompt", "Once €"], "'€'"),
])
def test_sample_bad_input_is_one_line_exit_2(trained_run, tmp_path, args, words):
    result = run_cli("sample", str(trained_run), *args, cwd=tmp_path)
    assert result.returncode == 2
    assert words in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_sample_not_a_run_folder(tmp_path):
    result = run_cli("sample", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 2 and "not a seqlab run folder" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("override, words", [
    ("model.hiden_size=3", "hiden_size"),
    ("model=nope", "available: bigram, encoder, gru"),
    ("trainer.max_steps=0", "trainer.max_steps must be positive"),
    ("device=cuda", "not available"),
    ("trainer.precision=fp8", "trainer.precision must be one of fp32, bf16, fp16"),
    ("trainer.precision=fp16", "trainer.precision fp16 needs a CUDA device"),
])
def test_train_bad_input_is_one_line_exit_2(corpus, tmp_path, override, words):
    result = run_cli("train", f"task.source={corpus}", *TINY, override, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert words in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_train_offline_without_a_source_says_how_to_fix(tmp_path):
    result = run_cli("train", "trainer.max_steps=1", cwd=tmp_path,
                     env={"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"})
    assert result.returncode == 2, result.stderr
    assert "SEQLAB_TINYSTORIES" in result.stderr and "Traceback" not in result.stderr


def test_cfg_prints_config_and_trains_nothing(tmp_path):
    result = run_cli("train", "--cfg", "model.hidden_size=77", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "hidden_size: 77" in result.stdout
    assert not (tmp_path / "outputs").exists()


@pytest.mark.slow
def test_multirun_sweep_in_one_folder(corpus, tmp_path):
    tiny = [a for a in TINY if not a.startswith("model.hidden_size")] + ["trainer.max_steps=4",
                                                                         "trainer.eval_every=4"]
    result = run_cli("train", "-m", f"task.source={corpus}", *tiny, "model.hidden_size=8,16", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    sweeps = list((tmp_path / "outputs" / "multirun").glob("*/*"))
    assert len(sweeps) == 1
    runs = sorted(p.name for p in sweeps[0].iterdir() if p.is_dir())
    assert runs == ["0_gru_tinystories", "1_gru_tinystories"]
    for run in runs:
        assert (sweeps[0] / run / "summary.json").exists()


def test_models_and_tasks_list_the_registry(tmp_path):
    assert run_cli("models", cwd=tmp_path).stdout.startswith("bigram")
    assert "tinystories" in run_cli("tasks", cwd=tmp_path).stdout
