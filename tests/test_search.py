"""Hyperparameter search: Hydra's Optuna sweeper scoring runs by their final metric, and
`seqlab search`: a study that survives kill -9, prunes trials, and refuses a bad space at once."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import pytest
import yaml
from conftest import descendants, run_cli, wait_for

from seqlab.search.journal import Journal, StudySettings, TrialRecord, save_settings
from seqlab.search.outcome import best_trial, compute_saved

# A one-layer, 16-wide transformer copying 8 symbols, 50 held-out sources per evaluation (a given
# peak FLOP/s: no matmul measured for MFU).
TINY_COPY = ["+search=copy_lr", "model.n_embd=16", "task.test_size=50", "trainer.log_every=3", "trainer.peak_flops=1e12",
             "threads=1"]


def summary(run: Path) -> dict:
    return json.loads((run / "summary.json").read_text())


def test_optuna_sweeper_scores_each_run_by_its_configured_final_metric(tmp_path):
    """`seqlab train -m` with the Optuna sweeper: each job returns its run's final val_acc (the
    search config's objective callback, here told to maximise accuracy), not the training loss."""
    result = run_cli("train", "-m", *TINY_COPY, "hydra.sweeper.n_trials=2", "trainer.max_steps=6",
                     "trainer.eval_every=3", "hydra.callbacks.objective.metric=val_acc",
                     "hydra.sweeper.direction=maximize", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (sweep,) = (tmp_path / "outputs" / "multirun").glob("*/*")
    runs = sorted(sweep.glob("*_transformer_copy"))
    assert len(runs) == 2
    accuracies = [summary(run)["final_val_acc"] for run in runs]
    found = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert found["best_value"] == pytest.approx(max(accuracies))
    assert set(found["best_params"]) == {"trainer.lr"}  # model.n_embd=16 took the width out of the space


def fake_study(folder: Path, completed_loss: float) -> Path:
    """A study whose one completed trial held val_loss `completed_loss` at every evaluation."""
    folder.mkdir()
    save_settings(folder, StudySettings("val_loss", "minimize", {"trainer.lr": "interval(0.001, 0.01)"}, [],
                                        pruner="median", startup_trials=1))
    journal = Journal(folder)
    journal.start(0, {"trainer.lr": 0.005}, "0_transformer_copy")
    journal.finish(TrialRecord(0, {"trainer.lr": 0.005}, "0_transformer_copy", state="complete",
                               value=completed_loss, curve={step: completed_loss for step in (3, 6, 9, 12)}))
    return folder


@pytest.mark.parametrize("completed_loss, status, steps", [(0.0, "pruned", 3), (100.0, "completed", 12)])
def test_a_trial_worse_than_the_median_is_pruned_at_its_evaluation(tmp_path, completed_loss, status, steps):
    """Against a completed trial at loss 0 every trial is worse: pruned at its first evaluation,
    after that evaluation's checkpoint. Against one at loss 100 it trains to its last step."""
    study = fake_study(tmp_path / "study", completed_loss)
    run = study / "1_transformer_copy"
    result = run_cli("train", *TINY_COPY, "trainer.max_steps=12", "trainer.eval_every=3", "trainer.lr=0.003",
                     f"hydra.run.dir={run}", f"+study={study}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    done = summary(run)
    assert (done["status"], done["steps"]) == (status, steps)
    assert done["stop_reason"] == ("pruned" if status == "pruned" else "max_steps")
    assert json.loads((run / "checkpoint" / "last.json").read_text())["step"] == steps
    assert ("pruned at step 3 of 12" in result.stdout + result.stderr) == (status == "pruned")


def test_compute_saved_counts_the_steps_pruned_trials_did_not_train():
    pruned = TrialRecord(0, {}, "0", state="pruned", value=2.0, steps=25, max_steps=100, flops=1e9, train_time_s=2.0)
    complete = TrialRecord(1, {}, "1", state="complete", value=0.5, steps=100, max_steps=100, flops=4e9, train_time_s=8.0)
    saved = compute_saved([pruned, complete])
    assert saved["flops_saved"] == pytest.approx(3e9) and saved["train_s_saved"] == pytest.approx(6.0)
    assert saved["flops_saved_share"] == pytest.approx(3e9 / 8e9)  # of what running both to the end costs
    assert best_trial([pruned, complete], "minimize") is complete  # a pruned trial never wins
    assert best_trial([pruned, complete], "maximize") is complete


@pytest.mark.parametrize("space, says", [
    ("trainer.lrr=interval(0.001, 0.01)", "no key 'trainer.lrr'"),
    ("trainer.lr=interval(0.001)", "'trainer.lr=interval(0.001)'"),
    ("trainer.lr=tag(lg, interval(0.001, 0.01))", "tag lg means nothing"),
    ("trainer.lr=interval(-0.1, 0.01)", "trainer.lr must be positive"),
])
def test_a_bad_search_space_is_one_line_before_anything_exists(tmp_path, space, says):
    study = tmp_path / "outputs" / "study"
    result = run_cli("search", "--study", str(study), "--trials", "2", *TINY_COPY, space, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("error: search space") and says in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "outputs").exists()


@pytest.mark.slow
@pytest.mark.process
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc to find the trial processes")
def test_a_study_killed_mid_trial_continues_to_exactly_its_trials(tmp_path, warm_seqlab):
    """kill -9 of the search and of its trials (a crash: nothing stops cleanly), then the same
    command: the interrupted trials continue from their checkpoints in their own folders, no
    new trial replaces them, and the study ends with exactly --trials trials, none alike."""
    study = tmp_path / "study"
    command = ["search", "--study", str(study), "--trials", "2", "--jobs", "2",
               "--pruner", "none", *TINY_COPY, "trainer.max_steps=40", "trainer.eval_every=10"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    first = warm_seqlab.start(command, tmp_path, env, session=True)
    wait_for(lambda: any(study.glob("*/checkpoint/last.json")), 90)
    tree = [first.pid, *descendants(first.pid)]  # the search, the server forking its trials, the trials
    for sig in (signal.SIGSTOP, signal.SIGKILL):  # all stopped first: none of them sees the others die
        for pid in tree:
            os.kill(pid, sig)
    first.wait()
    assert not (study / "best.json").exists()

    again = warm_seqlab.run(command, tmp_path, env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "(continued)" in again.stdout
    events = [json.loads(line) for line in (study / "trials.jsonl").read_text().splitlines()]
    started = [e for e in events if e["event"] == "start"]
    finished = [e for e in events if e["event"] == "finish"]
    assert [e["number"] for e in started] == [0, 1] and sorted(e["number"] for e in finished) == [0, 1]
    assert len({json.dumps(e["params"], sort_keys=True) for e in started}) == 2
    assert sorted(p.name for p in study.iterdir() if p.is_dir()) == ["0_transformer_copy", "1_transformer_copy"]
    for run in study.glob("*_transformer_copy"):
        assert (summary(run)["status"], summary(run)["steps"]) == ("completed", 40)
        steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
        assert steps == sorted(set(steps)) and steps[-1] == 40  # no step recorded twice after the resume
    best = json.loads((study / "best.json").read_text())
    assert best["trials"] == {"complete": 2, "pruned": 0, "failed": 0}
    assert best["best"]["value"] == min(summary(run)["final_val_loss"] for run in study.glob("*_transformer_copy"))
    compared = run_cli("compare", str(study), "--out", str(tmp_path / "compare"), cwd=tmp_path)
    assert compared.returncode == 0 and "found 2 run(s)" in compared.stdout + compared.stderr  # a study reads like a sweep
