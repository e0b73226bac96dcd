"""`seqlab.load_run(path)`: a run folder from Python, as docs/runs.md shows it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import seqlab
from seqlab.errors import SeqlabError

REPO = Path(__file__).resolve().parents[1]


def test_importing_seqlab_loads_no_torch():
    code = "import sys, seqlab; seqlab.load_run; assert 'torch' not in sys.modules, 'torch'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_run_reads_as_config_metrics_summary_model_and_tokenizer(trained_run):
    run = seqlab.load_run(trained_run)
    assert run.config["model"]["hidden_size"] == 32 and run.config["trainer"]["max_steps"] == 30
    records = [json.loads(line) for line in (trained_run / "metrics.jsonl").read_text().splitlines()]
    assert run.metrics == records and run.metrics[-1]["step"] == 30
    assert run.summary == json.loads((trained_run / "summary.json").read_text())
    assert run.summary["stop_reason"] == "max_steps" and run.warnings == []
    frame = run.metrics_frame()
    assert list(frame["step"]) == [r["step"] for r in records] and "val_loss" in frame.columns
    model, vocab = run.model("best"), run.tokenizer()
    assert not model.training and sum(p.numel() for p in model.parameters()) == run.summary["params"]
    assert vocab.decode(vocab.encode("Once upon a time")) == "Once upon a time"
    assert "gru on tinystories, completed at step 30" in repr(run)


def test_the_docs_example_runs(trained_run, capsys):
    text = (REPO / "docs" / "runs.md").read_text()
    (block,) = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    path = re.search(r'load_run\("([^"]+)"\)', block).group(1)
    exec(compile(block.replace(path, str(trained_run)), "docs/runs.md", "exec"), {})
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("completed ") and printed[1] == "Once upon a time"


def test_a_running_run_reads_as_far_as_it_goes(trained_run, tmp_path):
    import shutil

    running = tmp_path / "running"
    shutil.copytree(trained_run, running)
    (running / "summary.json").unlink()
    with open(running / "metrics.jsonl", "a") as f:
        f.write('{"step": 35, "tok')  # a line half written
    run = seqlab.load_run(running)
    assert run.summary["status"] == "incomplete" and run.summary["steps"] == 30
    assert any("summary.json" in w for w in run.warnings) and any("unreadable line" in w for w in run.warnings)


def test_what_is_no_run_is_one_clear_error(trained_run, tmp_path):
    with pytest.raises(SeqlabError, match="no such run folder"):
        seqlab.load_run(tmp_path / "missing")
    with pytest.raises(SeqlabError, match=r"holds 1 run\(s\); name one"):
        seqlab.load_run(trained_run.parent)
    with pytest.raises(AttributeError):
        seqlab.no_such_thing  # noqa: B018
