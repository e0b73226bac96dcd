"""`seqlab eval`: a run scored on its own split reproduces its final validation loss; other
sources, `--batches all`, JSON output and the mistakes a user can make."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
from conftest import TINY_TRAINER, run_cli

from seqlab.analysis.evaluate import eval_command, parse_batches
from seqlab.errors import SeqlabError


def _summary(run: Path) -> dict:
    return json.loads((run / "summary.json").read_text())


@pytest.mark.slow
def test_same_split_same_batches_gives_the_runs_final_loss(trained_run, capsys):
    summary = _summary(trained_run)
    default = eval_command(trained_run, None, "validation", "last", None, "text", "cpu")
    assert abs(default["loss"] - summary["final_val_loss"]) < 1e-6
    assert abs(default["bpc"] - summary["final_val_bpc"]) < 1e-6
    assert default["unknown_chars"] == summary["unknown_chars"]
    assert default["split_chars"] == summary["val_chars"]
    assert default["tokens"] == 4 * 8 * 20  # trainer.eval_batches x batch_size x seq_len
    explicit = eval_command(trained_run, None, "validation", "best", "4", "text", "cpu")
    assert abs(explicit["loss"] - summary["best_val_loss"]) < 1e-6
    text = capsys.readouterr().out
    assert "bits/char" in text and "unknown" in text and "640 evaluated" in text


@pytest.mark.slow
def test_json_line_and_whole_split(trained_run, corpus, tmp_path):
    result = run_cli("eval", str(trained_run), "--source", str(corpus), "--batches", "all",
                     "--format", "json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1
    data = json.loads(lines[0])
    assert data["batches"] == "all" and data["split"] == "validation" and data["step"] == 30
    # The whole split once, in order: every full window of seq_len characters.
    assert data["tokens"] == ((data["split_chars"] - 21) // 20 + 1) * 20
    assert math.isfinite(data["loss"]) and abs(data["bpc"] - data["loss"] / math.log(2)) < 1e-9


@pytest.mark.slow
def test_other_source_with_test_split_counts_unknown_chars(trained_run, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    for split in ("validation", "test"):
        rows = [{"text": f"Once upon a time, Zoë saw a zebra {i} times."} for i in range(20)]
        (other / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = eval_command(trained_run, str(other), "test", "last", "2", "json", "cpu")
    assert result["split"] == "test" and result["unknown_chars"] > 0 and math.isfinite(result["loss"])


@pytest.mark.slow
def test_missing_split_is_one_error_line(trained_run, tmp_path):
    result = run_cli("eval", str(trained_run), "--split", "test", cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "no 'test' split" in lines[0] and "train, validation" in lines[0]


@pytest.mark.slow
def test_non_language_model_run_is_refused(trained_run, tmp_path):
    fake = tmp_path / "copy_run"
    shutil.copytree(trained_run, fake)
    for meta in (fake / "checkpoint").glob("step_*/meta.json"):  # pretend it is a synthetic task's run
        data = json.loads(meta.read_text())
        data["config"]["task"] = {"name": "copy", "length": 8}
        meta.write_text(json.dumps(data))
    with pytest.raises(SeqlabError, match="language-model runs"):
        eval_command(fake, None, "validation", "last", None, "text", "cpu")


def test_argument_checks(tmp_path):
    assert parse_batches("all") is None and parse_batches("12") == 12
    for bad in ("0", "-3", "many"):
        with pytest.raises(SeqlabError, match="--batches"):
            parse_batches(bad)
    with pytest.raises(SeqlabError, match="--split"):
        eval_command(tmp_path, None, "dev", "last", None, "text", "cpu")
    with pytest.raises(SeqlabError, match="--checkpoint"):
        eval_command(tmp_path, None, "validation", "first", None, "text", "cpu")
    with pytest.raises(SeqlabError, match="--precision must be one of fp32, bf16, fp16"):
        eval_command(tmp_path, None, "validation", "last", None, "text", "cpu", precision="fp8")
    with pytest.raises(SeqlabError, match="no such run folder"):
        eval_command(tmp_path / "missing", None, "validation", "last", None, "text", "cpu")


@pytest.mark.slow
def test_bf16_run_trains_and_eval_uses_its_precision(corpus, tmp_path):
    small = ["model=transformer", "model.n_embd=32", "model.n_head=2", "model.block_size=20", "task.seq_len=20"]
    result = run_cli("train", f"task.source={corpus}", *TINY_TRAINER, *small, "trainer.precision=bf16", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    run = next((tmp_path / "outputs").glob("*/*_transformer_tinystories"))
    summary = _summary(run)
    assert summary["status"] == "completed" and math.isfinite(summary["final_val_loss"])
    assert "precision: bf16" in (run / "config.yaml").read_text()
    assert "bf16" in json.loads((run / "flops.json").read_text())["peak_source"]
    mixed = eval_command(run, None, "validation", "last", None, "json", "cpu")
    assert mixed["precision"] == "bf16" and abs(mixed["loss"] - summary["final_val_loss"]) < 1e-6
    full = eval_command(run, None, "validation", "last", None, "json", "cpu", precision="fp32")
    assert full["loss"] != mixed["loss"] and abs(full["loss"] - mixed["loss"]) < 0.05
