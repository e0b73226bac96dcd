"""Experiment trackers: what TensorBoard, MLflow and W&B hold is read back and compared
with the run folder (metrics.jsonl is the truth); resume, failures and the CLI errors."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import TINY, run_cli

from seqlab.tracking import Tracker, build_trackers
from seqlab.tracking.run_files import step_samples

TRACKERS = ("tensorboard", "mlflow", "wandb")
pytestmark = pytest.mark.skipif(not all(importlib.util.find_spec(name) for name in TRACKERS),
                                reason="the tracking extra is not installed: pip install 'seqlab[tracking]'")
"""Found, not imported: importing mlflow and wandb takes seconds, paid by the tests that use them."""


def records(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def one_run(work: Path) -> Path:
    runs = [p for p in (work / "outputs").glob("*/*_gru_tinystories") if p.is_dir()]
    assert len(runs) == 1, runs
    return runs[0]


def tb_scalars(log_dir: Path, tag: str) -> list[tuple[int, float]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(log_dir), size_guidance={"scalars": 0, "tensors": 0})
    events.Reload()
    return [(e.step, e.value) for e in events.Scalars(tag)]


def wandb_history(run: Path) -> list[dict]:
    """The history rows of a run's offline W&B files (the LevelDB-style log W&B writes)."""
    from wandb.proto import wandb_internal_pb2 as pb

    rows, block = [], 32768
    for file in sorted(run.glob("wandb/offline-run-*/run-*.wandb")):
        data, pos, parts = file.read_bytes(), 7, b""  # 7: the ":W&B" file header
        while pos + 7 <= len(data):
            if block - pos % block < 7:  # a block's tail too short for a record header is padding
                pos += block - pos % block
                continue
            length, kind = int.from_bytes(data[pos + 4:pos + 6], "little"), data[pos + 6]
            parts, pos = parts + data[pos + 7:pos + 7 + length], pos + 7 + length
            if kind in (1, 4):  # FULL or LAST: a whole protobuf Record
                record = pb.Record()
                record.ParseFromString(parts)
                parts = b""
                if record.HasField("history"):
                    rows.append({i.key or "/".join(i.nested_key): json.loads(i.value_json)
                                 for i in record.history.item})
    return rows


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- units ------------------------------------------------------------------------------

class Boom(Tracker):
    name, package = "boom", "boompkg"

    def __init__(self, error: Exception) -> None:
        super().__init__(None)
        self.error, self.calls = error, 0

    def start(self, trainer) -> None:
        self.calls += 1
        raise self.error

    def log(self, trainer, record) -> None:
        self.calls += 1


@pytest.mark.parametrize("error, says", [
    (ConnectionError("connection refused\n  at 127.0.0.1"), "connection refused at 127.0.0.1"),
    (ImportError("No module named 'boompkg'"), "the boompkg package is not installed (pip install 'seqlab[tracking]')"),
])
def test_a_failing_tracker_warns_once_and_stops(capsys, error, says):
    tracker = Boom(error)
    tracker.on_fit_start(None)
    for step in (1, 2):
        tracker.on_log(None, {"step": step})
    tracker.on_fit_end(None, {})
    assert capsys.readouterr().err.splitlines() == [f"warning: logger boom is off for this run: {says}"]
    assert tracker.calls == 1  # nothing after the failure


def test_build_trackers_follows_the_logger_list():
    from seqlab.config.compose import compose

    assert build_trackers(compose([])) == []
    names = [t.name for t in build_trackers(compose(["logger=[wandb,tensorboard]"]))]
    assert names == ["wandb", "tensorboard"]


def test_step_samples_finds_the_block_of_a_step(tmp_path):
    path = tmp_path / "samples.txt"
    path.write_text("=== step 5 | prompt 'a' ===\n--- sample 1 ---\nfirst\n\n"
                    "=== step 15 | prompt 'a' ===\n--- sample 1 ---\nsecond\n\n")
    assert step_samples(path, 15) == "=== step 15 | prompt 'a' ===\n--- sample 1 ---\nsecond"
    assert step_samples(path, 1) is None and step_samples(tmp_path / "none.txt", 5) is None


def test_bad_wandb_mode_is_one_line(tmp_path, corpus):
    result = run_cli("train", f"task.source={corpus}", *TINY, "logger=[wandb]", "logger.wandb.mode=cloud", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == "error: logger.wandb.mode must be one of offline, online, disabled, got 'cloud'"


# --- end to end -------------------------------------------------------------------------

@pytest.mark.slow
def test_resume_continues_every_tracker_without_repeating_a_step(tmp_path, corpus):
    """Train 30 steps, then pretend the run died at step 30 after its step-15 checkpoint:
    the resume redoes 16..30. TensorBoard purges and relogs them; MLflow and W&B keep their
    run and skip the steps they already hold. Each tracker then holds every step once."""
    import mlflow

    args = [f"task.source={corpus}", *TINY, "trainer.keep_last=2", "logger=[tensorboard,mlflow,wandb]"]
    first = run_cli("train", *args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "warning" not in first.stderr
    run = one_run(tmp_path)
    ids = json.loads((run / "trackers.json").read_text())
    (run / "checkpoint" / "last.json").write_text(json.dumps({"step": 15, "dir": "step_000015"}))
    again = run_cli("resume", str(run), cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "warning" not in again.stderr

    truth = records(run)
    steps = [r["step"] for r in truth]
    assert steps == [5, 10, 15, 20, 25, 30]
    logged = tb_scalars(run / "tb", "train_loss")  # the TensorBoard of it: every step once, the same values
    assert [s for s, _ in logged] == steps
    assert [v for _, v in logged] == pytest.approx([r["train_loss"] for r in truth], rel=1e-6)
    assert [s for s, _ in tb_scalars(run / "tb", "val_loss")] == [15, 30]

    client = mlflow.MlflowClient(f"sqlite:///{tmp_path / 'outputs' / 'mlflow' / 'mlflow.db'}")
    again_ids = json.loads((run / "trackers.json").read_text())
    assert again_ids["mlflow"]["run_id"] == ids["mlflow"]["run_id"]
    assert again_ids["wandb"]["run_id"] == ids["wandb"]["run_id"]
    experiment = client.get_experiment_by_name("seqlab")
    assert len(client.search_runs([experiment.experiment_id])) == 1  # no second run
    history = client.get_metric_history(ids["mlflow"]["run_id"], "train_loss")
    assert sorted(m.step for m in history) == steps
    assert [m.value for m in sorted(history, key=lambda m: m.step)] == pytest.approx([r["train_loss"] for r in truth])

    rows = [r for r in wandb_history(run) if "train_loss" in r]  # two offline runs of one W&B run id
    assert len(list(run.glob(f"wandb/offline-run-*-{ids['wandb']['run_id']}"))) == 2
    assert [r["_step"] for r in rows] == steps
    assert [r["train_loss"] for r in rows] == pytest.approx([r["train_loss"] for r in truth])


@pytest.mark.slow
def test_mlflow_server_holds_a_sweep(tmp_path, corpus):
    """A real `mlflow server` (sqlite backend, 127.0.0.1, a fresh port) gets a two-run sweep:
    params, metric history, summary metrics and artefacts are read back with MlflowClient."""
    import mlflow

    port, store = free_port(), tmp_path / "server"
    store.mkdir()
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{store / 'mlflow.db'}",
         "--artifacts-destination", str(store / "artifacts"), "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1"], cwd=store, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},  # no job runner: nothing here uses it
        start_new_session=True)  # its own process group: the uvicorn workers stop with it
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{uri}/health", timeout=2)
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "mlflow server did not start"
                time.sleep(0.5)
        result = run_cli("train", "-m", f"task.source={corpus}", *TINY, "model.hidden_size=16,32",
                         "logger=[mlflow]", f"logger.mlflow.tracking_uri={uri}",
                         "logger.mlflow.experiment_name=tiny", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert "warning" not in result.stderr

        client = mlflow.MlflowClient(uri)
        runs = client.search_runs([client.get_experiment_by_name("tiny").experiment_id])
        folders = sorted(p for p in (tmp_path / "outputs" / "multirun").glob("*/*/*_gru_tinystories"))
        children = {r.info.run_name: r for r in runs if "mlflow.parentRunId" in r.data.tags}
        assert sorted(children) == [p.name for p in folders]  # run name = the run folder's name
        parents = {r.data.tags["mlflow.parentRunId"] for r in children.values()}
        assert len(parents) == 1 and len(runs) == 3  # two siblings under one parent
        for folder in folders:
            run = children[folder.name]
            assert run.info.status == "FINISHED"
            assert run.data.params["trainer.max_steps"] == "30"
            assert run.data.tags["model"] == "gru" and run.data.tags["task"] == "tinystories"
            truth = records(folder)
            history = sorted(client.get_metric_history(run.info.run_id, "train_loss"), key=lambda m: m.step)
            assert [(m.step, m.value) for m in history] == [(r["step"], pytest.approx(r["train_loss"]))
                                                            for r in truth]
            summary = json.loads((folder / "summary.json").read_text())
            assert run.data.metrics["summary/best_val_loss"] == pytest.approx(summary["best_val_loss"])
            names = {a.path for a in client.list_artifacts(run.info.run_id)}
            assert {"config.yaml", "loss.png", "samples.txt", "summary.json"} <= names
        sizes = sorted(r.data.params["model.hidden_size"] for r in children.values())
        assert sizes == ["16", "32"]
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


@pytest.mark.slow
def test_a_dead_server_costs_one_warning(tmp_path, corpus):
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    result = run_cli("train", f"task.source={corpus}", *TINY, "logger=[mlflow,tensorboard]",
                     f"logger.mlflow.tracking_uri={dead}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "warning" in line.lower()]
    assert len(warnings) == 1 and warnings[0].startswith("warning: logger mlflow is off for this run:")
    run = one_run(tmp_path)
    assert json.loads((run / "summary.json").read_text())["status"] == "completed"
    assert [s for s, _ in tb_scalars(run / "tb", "train_loss")] == [r["step"] for r in records(run)]


def test_a_missing_package_names_the_extra(monkeypatch, capsys, tmp_path):
    from seqlab.tracking.wandb_tracker import WandbTracker

    monkeypatch.setitem(sys.modules, "wandb", None)  # `import wandb` raises ImportError
    tracker = WandbTracker(SimpleNamespace(mode="offline"))
    tracker.on_fit_start(SimpleNamespace(run=SimpleNamespace(path=tmp_path)))
    assert capsys.readouterr().err == ("warning: logger wandb is off for this run: the wandb package is not "
                                       "installed (pip install 'seqlab[tracking]')\n")


def test_compare_writes_a_tensorboard_folder(trained_run, tmp_path):
    out = tmp_path / "tb"
    result = run_cli("compare", str(trained_run), "--tensorboard", str(out), "--out", str(tmp_path / "cmp"),
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    truth = records(trained_run)
    logged = tb_scalars(out / trained_run.name, "train_loss")
    assert logged == [(r["step"], pytest.approx(r["train_loss"], rel=1e-6)) for r in truth]
