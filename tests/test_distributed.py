"""Data-parallel training on CPU: 2 gloo processes, one thread each, a fresh file store per
test, and a timeout on everything so a hang fails fast."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import TINY, descendants, run_cli
from omegaconf import OmegaConf
from safetensors.torch import load_file

from seqlab import warm_start
from seqlab.data.tokenizers.char import CharVocab
from seqlab.engine.step import train_step
from seqlab.registry import build_model
from seqlab.tasks.base import Batch
from seqlab.tasks.char_lm import CharLMTask

V, B, T = 11, 8, 12
CFG = {"name": "gru", "embed_size": 8, "hidden_size": 16, "num_layers": 1, "dropout": 0.0, "bias": True,
       "impl": "fused"}


def tiny_task() -> CharLMTask:
    data = torch.randint(0, V, (500,), generator=torch.Generator().manual_seed(0)).numpy().astype("uint8")
    return CharLMTask(data, data, CharVocab("abcdefghij"), seq_len=T)


def fixed_batch(n: int) -> Batch:
    g = torch.Generator().manual_seed(1)
    x = torch.randint(0, V, (n, T + 1), generator=g)
    return Batch(x[:, :-1], x[:, 1:])


def fresh_model_and_optimizer():
    torch.manual_seed(0)
    model = build_model(OmegaConf.create(CFG), V)
    return model, torch.optim.Adam(model.parameters(), lr=1e-2)


def ddp_step_worker(rank: int, store: str, out: str) -> None:
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2)
    model, opt = fresh_model_and_optimizer()
    half = fixed_batch(2 * B)
    mine = Batch(half.inputs[rank * B:(rank + 1) * B], half.targets[rank * B:(rank + 1) * B])
    train_step(DistributedDataParallel(model), tiny_task(), [mine], opt, 1.0, synced=True)
    if rank == 0:
        torch.save(model.state_dict(), out)
    dist.destroy_process_group()


def test_one_ddp_step_equals_one_step_on_the_concatenated_batch(tmp_path):
    out = tmp_path / "ddp.pt"
    ranks = [warm_start.process(ddp_step_worker, (rank, str(tmp_path / "store"), str(out)), name=f"rank {rank}")
             for rank in range(2)]  # forked as seqlab forks its own ranks
    for rank in ranks:
        rank.start()
    deadline = time.time() + 120
    for rank in ranks:
        rank.join(timeout=max(0.0, deadline - time.time()))
    if any(rank.is_alive() for rank in ranks):
        for rank in ranks:
            rank.kill()
        raise AssertionError("the two ranks hung")
    assert [rank.exitcode for rank in ranks] == [0, 0]
    model, opt = fresh_model_and_optimizer()
    train_step(model, tiny_task(), fixed_batch(2 * B), opt, 1.0)
    ddp = torch.load(out)
    for name, value in model.state_dict().items():
        torch.testing.assert_close(ddp[name], value, atol=1e-6, rtol=1e-5)


def test_grad_accumulation_equals_one_step_on_the_double_batch():
    both = fixed_batch(2 * B)
    halves = [Batch(both.inputs[:B], both.targets[:B]), Batch(both.inputs[B:], both.targets[B:])]
    accumulated, opt_a = fresh_model_and_optimizer()
    loss_a, norm_a, _ = train_step(accumulated, tiny_task(), halves, opt_a, 1.0)
    whole, opt_w = fresh_model_and_optimizer()
    loss_w, norm_w, _ = train_step(whole, tiny_task(), both, opt_w, 1.0)
    torch.testing.assert_close(loss_a, loss_w)
    torch.testing.assert_close(norm_a, norm_w)
    for (name, a), w in zip(accumulated.state_dict().items(), whole.state_dict().values()):
        torch.testing.assert_close(a, w, atol=1e-6, rtol=1e-5, msg=name)


DDP = [*TINY, "trainer.devices=2", "trainer.dist_timeout_s=30"]


def runs(tmp_path: Path) -> list[Path]:
    return sorted(p.parent for p in (tmp_path / "outputs").glob("*/*/config.yaml"))


def assert_complete(run: Path, steps: int) -> dict:
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["steps"] == steps
    assert summary["world_size"] == 2 and summary["global_batch_size"] == 2 * 8
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == sorted({r["step"] for r in records})  # one writer
    assert "world_size: 2" in (run / "config.yaml").read_text()
    assert (run / "checkpoint" / "last.json").exists() and (run / "loss.png").exists()
    return summary


LONG = [*DDP, "trainer.max_steps=60", "trainer.log_every=1", "trainer.eval_every=20"]


@pytest.fixture(scope="module")
def ddp_run(corpus, tmp_path_factory) -> Path:
    """One run of LONG on trainer.devices=2, uninterrupted: checked on its own, and the reference
    an interrupted and resumed run must equal."""
    work = tmp_path_factory.mktemp("ddp")
    result = run_cli("train", f"task.source={corpus}", *LONG, cwd=work, timeout=300)
    assert result.returncode == 0, result.stderr
    (run,) = runs(work)
    return run


@pytest.mark.slow
def test_devices_2_trains_one_run_folder_that_samples_in_one_process(ddp_run, tmp_path):
    summary = assert_complete(ddp_run, 60)
    assert summary["tokens"] == 60 * 2 * 8 * 20  # every rank's tokens count
    weights = load_file(str(next((ddp_run / "checkpoint").glob("step_*")) / "model.safetensors"))
    assert not any(k.startswith(("module.", "_orig_mod.")) for k in weights)
    sample = run_cli("sample", str(ddp_run), "--max-new-tokens", "20", cwd=tmp_path)
    assert sample.returncode == 0 and sample.stdout.strip(), sample.stderr


@pytest.mark.slow
def test_torchrun_trains_one_run_folder(corpus, tmp_path):
    torchrun = Path(sys.executable).with_name("torchrun")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200"}
    result = subprocess.run([str(torchrun), "--standalone", "--nproc_per_node=2", "-m", "seqlab", "train",
                             f"task.source={corpus}", *TINY], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    (run,) = runs(tmp_path)
    assert_complete(run, 30)


def start(warm_seqlab, tmp_path: Path, *args: str):
    """`seqlab ARGS` as a process of its own (a Popen-like tests/zygote.py WarmProcess)."""
    return warm_seqlab.start(list(args), tmp_path, {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200"})


def wait_for_records(tmp_path: Path, proc, count: int = 1) -> Path:
    deadline = time.time() + 180
    while time.time() < deadline and proc.poll() is None:
        found = list(tmp_path.glob("outputs/*/*/metrics.jsonl"))
        if found and found[0].read_text().count("\n") >= count:
            return found[0].parent
        time.sleep(0.05)
    raise AssertionError(f"training never started: {proc.communicate(timeout=60)[1][-2000:]}")


def alive(pid: int) -> bool:
    """Running (a zombie left to an init that does not reap counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.slow
def test_sigterm_stops_both_ranks_and_resume_equals_the_uninterrupted_run(corpus, tmp_path, ddp_run, warm_seqlab):
    reference = ddp_run
    proc = start(warm_seqlab, tmp_path, "train", f"task.source={corpus}", *LONG)
    run = wait_for_records(tmp_path, proc, 3)
    workers = descendants(proc.pid)  # the ranks, and the server that forked them
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    summary = json.loads((run / "summary.json").read_text())
    if summary["status"] == "completed":
        pytest.skip("the run finished before the signal arrived")
    assert proc.returncode == 143, err
    deadline = time.time() + 10
    while any(alive(p) for p in workers) and time.time() < deadline:
        time.sleep(0.1)
    assert summary["status"] == "interrupted" and not any(alive(p) for p in workers)
    other_size = run_cli("resume", str(run), "trainer.devices=1", cwd=tmp_path)
    assert other_size.returncode == 2 and "trained on 2 process(es); resume it with trainer.devices=2" in \
        other_size.stderr and other_size.stderr.count("\n") == 1, other_size.stderr
    again = run_cli("resume", str(run), cwd=tmp_path, timeout=300)
    assert again.returncode == 0, again.stderr
    ours = load_file(str(next((run / "checkpoint").glob("step_000060")) / "model.safetensors"))
    theirs = load_file(str(next((reference / "checkpoint").glob("step_000060")) / "model.safetensors"))
    assert all(torch.equal(ours[k], theirs[k]) for k in theirs)  # bit for bit, as for one process
    strip = lambda r: {k: v for k, v in r.items() if k not in ("wall_s", "tokens_per_s", "mfu")}
    read = lambda p: [strip(json.loads(x)) for x in (p / "metrics.jsonl").read_text().splitlines()]
    assert read(run) == read(reference)


@pytest.mark.slow
def test_a_killed_rank_ends_the_run_with_one_clear_line(corpus, tmp_path, warm_seqlab):
    proc = start(warm_seqlab, tmp_path, "train", f"task.source={corpus}", *DDP, "trainer.max_steps=100000",
                 "trainer.eval_every=100000")
    wait_for_records(tmp_path, proc)
    rank1 = sorted(p for p in descendants(proc.pid) if os.getpgid(p) == p)[-1]  # each rank leads its group
    os.kill(rank1, signal.SIGKILL)
    _, err = proc.communicate(timeout=90)  # bounded: never a hang
    assert proc.returncode == 1
    assert "rank 1 of 2 was killed by SIGKILL" in err, err[-2000:]


@pytest.mark.slow
def test_resume_auto_starts_fresh_then_continues(corpus, tmp_path):
    folder = tmp_path / "job"
    args = ["train", f"task.source={corpus}", *TINY, "trainer.resume=auto", f"hydra.run.dir={folder}"]
    first = run_cli(*args, "trainer.max_steps=15", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert json.loads((folder / "summary.json").read_text())["steps"] == 15
    second = run_cli(*args, "trainer.max_steps=30", cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert "resumed at step 15" in " ".join(second.stderr.split())
    assert json.loads((folder / "summary.json").read_text())["steps"] == 30


@pytest.mark.slow
def test_a_sweep_through_the_submitit_local_launcher(corpus, tmp_path):
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    result = run_cli("train", "-m", "hydra/launcher=submitit_local", "hydra.launcher.tasks_per_node=2",
                     f"task.source={corpus}", *TINY, "model.hidden_size=16,24", cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    done = [json.loads(p.read_text()) for p in sorted((tmp_path / "outputs" / "multirun").glob("*/*/*/summary.json"))]
    assert len(done) == 2 and all(s["status"] == "completed" for s in done)
    assert all(s["world_size"] == 2 for s in done)  # a job's two tasks trained one run together
