"""The run folder is never corrupted: one writer at a time, failed writes, folders that cannot be made."""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import TINY, run_cli, wait_for
from test_robustness import assert_same_run, last_weights, losses, one_line_exit_2, only_run

from seqlab.errors import RunWriteError, SeqlabError
from seqlab.runs.folder import claim_run_folder, reserve_folder
from seqlab.runs.lock import RunBusyError, RunLock
from seqlab.runs.writer import RunDir

HALF = ["trainer.max_steps=15"]  # a run stopped half way: the rest of TINY's 30 steps is resumed


# --- the lock ---------------------------------------------------------------------------

def test_a_second_writer_is_refused_and_told_who_holds_the_folder(tmp_path):
    first = RunLock(tmp_path)
    first.acquire()
    with pytest.raises(RunBusyError, match=f"pid {os.getpid()} on "):
        RunLock(tmp_path).acquire()
    first.release()
    assert not (tmp_path / ".lock").exists()  # a clean release leaves no lock file
    again = RunLock(tmp_path)
    again.acquire()
    again.release()


def test_a_writer_killed_with_sigkill_leaves_no_lock(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time\nfrom seqlab.runs.lock import RunLock\n"
                               f"RunLock({str(tmp_path)!r}).acquire(); print('held', flush=True); time.sleep(60)"],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(RunBusyError, match=f"pid {holder.pid} "):
        RunLock(tmp_path).acquire()
    holder.kill()
    holder.wait()
    assert (tmp_path / ".lock").exists()  # the file stays, the lock does not
    lock = RunLock(tmp_path)
    lock.acquire()
    assert f"pid {os.getpid()} " in (tmp_path / ".lock").read_text()
    lock.release()


def test_a_run_folder_on_a_read_only_mount_is_refused(tmp_path, monkeypatch):
    from seqlab.runs import lock as runlock

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(runlock.os, "open", read_only)
    with pytest.raises(SeqlabError, match="cannot be written: Read-only file system"):
        RunLock(tmp_path).acquire()


def test_training_into_a_folder_that_holds_a_run_is_refused(tmp_path):
    (tmp_path / "metrics.jsonl").write_text('{"step": 5}\n')
    with pytest.raises(SeqlabError, match="already holds a run; continue it with `seqlab resume"):
        with claim_run_folder(tmp_path, resuming=False):
            pass
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.jsonl"]
    with claim_run_folder(tmp_path, resuming=True):
        assert (tmp_path / ".lock").exists()


# --- what a failed start leaves ---------------------------------------------------------

def test_a_fresh_folder_is_removed_when_the_run_fails_before_training(tmp_path):
    folder = reserve_folder(tmp_path / "outputs" / "2026-01-01" / "12-00-00_gru_tinystories")
    with pytest.raises(SystemExit), claim_run_folder(folder, resuming=False):
        (folder / ".hydra").mkdir()
        sys.exit(2)
    assert not (tmp_path / "outputs").exists()  # the date folder made for it goes too


def test_a_folder_that_holds_training_or_existed_before_is_kept(tmp_path):
    fresh = reserve_folder(tmp_path / "a")
    with pytest.raises(RuntimeError), claim_run_folder(fresh, resuming=False):
        (fresh / "metrics.jsonl").write_text('{"step": 5}\n')
        raise RuntimeError("crash after step 5")
    chosen = tmp_path / "chosen"
    chosen.mkdir()
    with pytest.raises(SystemExit), claim_run_folder(chosen, resuming=False):
        sys.exit(1)
    assert fresh.is_dir() and chosen.is_dir()


def test_run_folder_that_cannot_be_made(corpus, tmp_path):
    (tmp_path / "a-file").write_text("not a folder\n")
    result = run_cli("train", f"task.source={corpus}", *TINY, "hydra.run.dir=a-file/run", cwd=tmp_path)
    one_line_exit_2(result, "cannot create run folder 'a-file/run': 'a-file' is a file")


def test_outputs_root_under_a_file(corpus, tmp_path, monkeypatch):
    from seqlab.launch.command import run_train

    (tmp_path / "a-file").write_text("not a folder\n")
    monkeypatch.setenv("SEQLAB_OUTPUTS", str(tmp_path / "a-file" / "outputs"))
    with pytest.raises(SeqlabError, match="cannot create run folder '.*': '.*a-file' is a file"):
        run_train([f"task.source={corpus}", *TINY])


def test_a_read_only_file_system_is_one_line(tmp_path, monkeypatch):
    def read_only(self, *args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(self))

    monkeypatch.setattr(Path, "mkdir", read_only)
    with pytest.raises(SeqlabError, match="cannot create run folder '.*': Read-only file system"):
        reserve_folder(tmp_path / "outputs" / "run")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_outputs_root_that_is_read_only(corpus, tmp_path):
    root = tmp_path / "ro"
    root.mkdir(mode=0o555)
    result = run_cli("train", f"task.source={corpus}", *TINY, cwd=tmp_path, env={"SEQLAB_OUTPUTS": str(root)})
    one_line_exit_2(result, "cannot create run folder")


# --- failed writes ----------------------------------------------------------------------

def test_a_checkpoint_that_cannot_be_written_leaves_the_previous_one(tmp_path, monkeypatch):
    import torch

    from seqlab.runs import checkpoint

    model = torch.nn.Linear(4, 4)
    folder = tmp_path / "checkpoint"
    checkpoint.save_checkpoint(folder, model, {"step": 5}, ("last", "best"))
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(checkpoint, "save_model", disk_full)
    with pytest.raises(RunWriteError, match=r"checkpoint '.*step_000010': No space left on device"):
        checkpoint.save_checkpoint(folder, model, {"step": 10}, ("last", "best"))
    assert {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()} == before  # no temp leftovers


def test_metrics_that_cannot_be_written_name_the_file(tmp_path):
    run = RunDir(tmp_path)
    run.metrics.symlink_to("/dev/full")  # every write: ENOSPC
    with pytest.raises(RunWriteError, match=f"could not write metrics '{run.metrics}': No space left"):
        run.log({"step": 1})


def test_a_line_that_does_not_fit_is_cut_off_again(tmp_path, monkeypatch):
    from seqlab.runs import atomic

    path = tmp_path / "metrics.jsonl"
    atomic.append_line(path, '{"step": 5}')
    real_write, calls = os.write, []

    def fills_up(fd, data):  # the first call writes a part, the next finds the disk full
        calls.append(len(data))
        if len(calls) > 1:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, bytes(data[:4]))

    monkeypatch.setattr(atomic.os, "write", fills_up)
    with pytest.raises(OSError):
        atomic.append_line(path, '{"step": 10}')
    assert path.read_text() == '{"step": 5}\n' and len(calls) == 2


def test_a_failed_write_marks_the_summary_failed(tmp_path):
    run = RunDir(tmp_path)
    run.write_summary({"status": "completed", "steps": 10})
    with pytest.raises(RunWriteError), run.failing_writes(lambda: {"status": "running", "steps": 20}):
        raise RunWriteError("could not write checkpoint 'x': File too large")
    summary = json.loads(run.summary.read_text())
    assert summary == {"status": "failed", "steps": 20, "error": "could not write checkpoint 'x': File too large"}


# --- end to end -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def isolated(tmp_path_factory) -> dict[str, str]:
    """conftest's isolated_env for module fixtures, which run before it: caches in temp folders."""
    base = tmp_path_factory.getbasetemp()
    return {"SEQLAB_CACHE": str(base / "seqlab-cache"), "HF_DATASETS_CACHE": str(base / "hf-cache"),
            "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}


@pytest.fixture(scope="module")
def straight(corpus, tmp_path_factory, isolated) -> Path:
    work = tmp_path_factory.mktemp("straight")
    assert run_cli("train", f"task.source={corpus}", *TINY, cwd=work, env=isolated).returncode == 0
    return only_run(work)


@pytest.fixture(scope="module")
def half(corpus, tmp_path_factory, isolated) -> Path:
    work = tmp_path_factory.mktemp("half")
    assert run_cli("train", f"task.source={corpus}", *TINY, *HALF, cwd=work, env=isolated).returncode == 0
    return only_run(work)


def copy_of(run: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(run, tmp_path / run.name))


def cli_env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200"}


def popen_cli(*args: str, cwd: Path, **kwargs) -> subprocess.Popen:
    """`python -m seqlab ARGS`, a new interpreter: for what a forked child cannot be given (preexec_fn)."""
    return subprocess.Popen([sys.executable, "-m", "seqlab", *args], cwd=cwd, env=cli_env(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)


@pytest.mark.slow
def test_two_concurrent_resumes_one_proceeds(half, straight, tmp_path, warm_seqlab):
    run = copy_of(half, tmp_path)
    first = warm_seqlab.start(["resume", str(run), "trainer.max_steps=30"], tmp_path, cli_env())
    wait_for(lambda: (run / ".lock").exists() or first.poll() is not None)
    first.send_signal(signal.SIGSTOP)  # it holds the lock, whatever the speed of the machine
    try:
        metrics_before = (run / "metrics.jsonl").read_bytes()
        second = run_cli("resume", str(run), "trainer.max_steps=30", cwd=tmp_path)
        one_line_exit_2(second, f"run folder '{run}' is being written by another seqlab process (pid {first.pid} ")
        assert (run / "metrics.jsonl").read_bytes() == metrics_before
        reader = run_cli("sample", str(run), "-n", "10", cwd=tmp_path)  # readers need no lock
        assert reader.returncode == 0, reader.stderr
    finally:
        first.send_signal(signal.SIGCONT)
    _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    steps = [r[0] for r in losses(run)]
    assert steps == sorted(set(steps)) and steps[-1] == 30
    assert_same_run(run, straight)
    assert not (run / ".lock").exists()


@pytest.mark.slow
def test_a_writer_killed_with_sigkill_mid_run_leaves_no_lock(half, straight, tmp_path, warm_seqlab):
    run = copy_of(half, tmp_path)
    # A checkpoint every step: the kill lands among writes, and the run lasts long enough to be hit.
    writer = warm_seqlab.start(["resume", str(run), "trainer.max_steps=30", "trainer.checkpoint_every=1"], tmp_path,
                               cli_env())
    logged = RunDir(run, enabled=False).read_metrics  # skips a line being written
    wait_for(lambda: writer.poll() is not None or (run / ".lock").exists() and logged()[-1]["step"] > 15)
    writer.kill()
    writer.wait()
    if not (run / ".lock").exists():
        pytest.skip("the run finished before the kill")
    again = run_cli("resume", str(run), "trainer.max_steps=30", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert_same_run(run, straight)
    assert not (run / ".lock").exists()


@pytest.mark.slow
def test_a_checkpoint_that_does_not_fit_stops_the_run_and_resumes_later(half, straight, tmp_path):
    import resource

    run = copy_of(half, tmp_path)
    step_folder = run / "checkpoint" / json.loads((run / "checkpoint" / "last.json").read_text())["dir"]
    sizes = sorted(p.stat().st_size for p in step_folder.iterdir())
    limit = sizes[-1] - 1  # the largest file of a checkpoint no longer fits: EFBIG
    assert max((run / n).stat().st_size for n in ("metrics.jsonl", "summary.json", "config.yaml")) < limit

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    full = popen_cli("resume", str(run), "trainer.max_steps=30", cwd=tmp_path, preexec_fn=small_files)
    _, err = full.communicate(timeout=300)
    assert full.returncode == 1, err
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "could not write checkpoint" in errors[0] and "File too large" in errors[0], err
    assert f"the last good checkpoint is step 15; once there is room: seqlab resume {run}" in errors[0]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "failed" and "File too large" in summary["error"]
    assert not list((run / "checkpoint").glob(".tmp-*"))
    kept, good = last_weights(run), last_weights(half)
    assert all((kept[name] == good[name]).all() for name in good)

    again = run_cli("resume", str(run), "trainer.max_steps=30", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert_same_run(run, straight)
    assert json.loads((run / "summary.json").read_text())["status"] == "completed"


@pytest.mark.slow
def test_resuming_a_completed_run_changes_nothing(straight, tmp_path):
    run = copy_of(straight, tmp_path)
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in run.rglob("*") if p.is_file()}
    result = run_cli("resume", str(run), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "is complete at step 30" in result.stdout and "trainer.max_steps=M (M > 30)" in result.stdout
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in run.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in run.iterdir()) == sorted(p.name for p in straight.iterdir())


@pytest.mark.slow
def test_training_again_into_a_run_is_refused(corpus, straight, tmp_path):
    run = copy_of(straight, tmp_path)
    result = run_cli("train", f"task.source={corpus}", *TINY, f"hydra.run.dir={run}", cwd=tmp_path)
    one_line_exit_2(result, f"'{run}' already holds a run; continue it with `seqlab resume {run}`")
    assert losses(run) == losses(straight)


def test_reproduce_resumes_a_run_whose_write_failed(tmp_path):
    from seqlab.reproduce import PlannedRun, command_for

    (tmp_path / "summary.json").write_text('{"status": "failed", "error": "could not write ..."}\n')
    command = command_for(PlannedRun("exp", ["+experiment=exp"], tmp_path, 1.0), threads=1)
    assert command[:2] == ["resume", str(tmp_path)]  # training it afresh would be refused
