"""`seqlab reproduce`: expand experiments, run them side by side, and write the results table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_cli

TINY_EXPERIMENT = """# @package _global_
experiment: tiny
model:
  embed_size: 8
  hidden_size: 16
task:
  seq_len: 10
trainer:
  max_steps: 6
  eval_every: 3
  eval_batches: 2
  batch_size: 4
  num_samples: 0
device: cpu
reference:
  - {run: model=rnn, train_loss: 1.5}
hydra:
  sweeper:
    params:
      model: rnn,gru
"""


@pytest.fixture
def user_conf(tmp_path: Path) -> Path:
    (tmp_path / "conf" / "experiment").mkdir(parents=True)
    (tmp_path / "conf" / "experiment" / "tiny.yaml").write_text(TINY_EXPERIMENT)
    return tmp_path / "conf"


def test_plan_expands_the_sweep_longest_first(user_conf, monkeypatch, tmp_path):
    from seqlab.reproduce import PlannedRun, plan, split_exclusive

    monkeypatch.setenv("SEQLAB_CONFIG_DIR", str(user_conf))
    runs = plan(["tiny"], tmp_path / "out")
    assert [r.folder.name for r in runs] == ["model=gru", "model=rnn"]  # the GRU costs more
    assert runs[0].overrides == ["+experiment=tiny", "model=gru"]
    assert split_exclusive(runs, jobs=2) == (runs, [])  # no more runs than workers: all side by side
    big = [PlannedRun("x", [], tmp_path / str(i), cost) for i, cost in enumerate([10.0, 4.0, 4.0, 3.0])]
    assert split_exclusive(big, jobs=2) == (big[1:], big[:1])  # 10 >= (4 + 4 + 3) / 2: alone, 2 threads
    big[0].cost = 5.0
    assert split_exclusive(big, jobs=2) == (big, [])


def test_every_bundled_experiment_plans(monkeypatch, tmp_path):
    from seqlab.reproduce import experiment_names, plan

    names = experiment_names()
    assert {"rnn_vs_gru_seq20", "multilayer_rnn", "rnn_vs_gru_seq100", "gru_vs_transformer",
            "transformer_1l"} <= set(names)
    runs = plan(["rnn_vs_gru_seq20", "multilayer_rnn", "rnn_vs_gru_seq100", "gru_vs_transformer",
                 "transformer_1l"], tmp_path)
    assert len(runs) == 11
    assert runs[0].folder.name == "model=transformer_8l"


def test_unknown_experiment_is_one_line(tmp_path):
    result = run_cli("reproduce", "nope", cwd=tmp_path)
    assert result.returncode == 2 and "unknown experiment" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_reproduce_runs_and_writes_the_readme_table(corpus, user_conf, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# x\n<!-- reproduce:start -->\nold\n<!-- reproduce:end -->\ntail\n")
    env = {"SEQLAB_CONFIG_DIR": str(user_conf), "SEQLAB_TINYSTORIES": str(corpus)}
    result = run_cli("reproduce", "tiny", "--jobs", "2", "--out", str(tmp_path / "out"),
                     "--readme", str(readme), cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    for name in ("model=rnn", "model=gru"):
        summary = json.loads((tmp_path / "out" / "tiny" / name / "summary.json").read_text())
        assert summary["status"] == "completed" and summary["steps"] == 6
    text = readme.read_text()
    assert "old" not in text and text.endswith("tail\n")
    assert "| tiny | `model=rnn` |" in text and "1.500" in text  # the seed's number beside ours
    assert "| fp32 | 1 |" in text  # precision and threads of each run
    assert "--jobs 2` that trained all 2 runs" in text and "min** of wall time" in text
    again = run_cli("reproduce", "tiny", "--out", str(tmp_path / "out"), cwd=tmp_path, env=env)
    assert "0 run(s) to do" in again.stderr  # finished runs are kept
    assert "--jobs 2` that trained all 2 runs" in again.stdout  # ... and so is how long they took


FINE_TUNE_EXPERIMENT = TINY_EXPERIMENT.replace("experiment: tiny", "experiment: tiny_ft").replace(
    "model: rnn,gru", "trainer.init_from: null,nowhere/pretrained")


def test_runs_that_start_from_another_wait_and_say_when_it_is_missing(corpus, user_conf, monkeypatch, tmp_path):
    """A run with trainer.init_from is planned after every other run, whatever it costs; when its
    starting folder is still missing then, it is not started and the command says so in one line."""
    from seqlab.reproduce import plan

    (user_conf / "experiment" / "tiny_ft.yaml").write_text(FINE_TUNE_EXPERIMENT)
    env = {"SEQLAB_CONFIG_DIR": str(user_conf), "SEQLAB_TINYSTORIES": str(corpus)}
    monkeypatch.setenv("SEQLAB_CONFIG_DIR", str(user_conf))
    runs = plan(["tiny_ft", "tiny"], tmp_path / "out")
    assert [r.init_from for r in runs] == [None, None, None, "nowhere/pretrained"]
    assert runs[-1].folder.name == "trainer.init_from=nowhere_pretrained"  # a path value stays one folder
    result = run_cli("reproduce", "tiny_ft", "--jobs", "1", "--out", str(tmp_path / "out"), cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "error: 1 run(s) not started, their starting weights missing: "
        "tiny_ft/trainer.init_from=nowhere_pretrained (trainer.init_from=nowhere/pretrained)")
    scratch = json.loads((tmp_path / "out" / "tiny_ft" / "trainer.init_from=null" / "summary.json").read_text())
    assert scratch["status"] == "completed"
