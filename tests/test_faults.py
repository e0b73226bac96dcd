"""Faults by class, each table-driven: a damaged file seqlab wrote, a bad data record, a full
disk, a number out of range, a signal while a run is set up, leftovers of killed processes.
Every refusal is one `error:` line with its exit code, no traceback, and nothing already saved
changes (a run's files keep their bytes)."""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from conftest import TINY, TINY_TRAINER, run_cli, write_corpus
from safetensors.torch import load_file, save_file

from seqlab.data.saved import DamagedFileError
from seqlab.data.tokenizers.char import CharVocab
from seqlab.data.tokenizers.subword import ByteTokenizer, train_bpe
from seqlab.errors import SeqlabError
from seqlab.runs.checkpoint import save_checkpoint
from seqlab.runs.init_from import init_from

# --- what the tests share ---------------------------------------------------------------------------


def one_error(result: subprocess.CompletedProcess, code: int, words: str) -> None:
    """Exit `code`, exactly one `error:` line holding `words`, no traceback, no library log lines."""
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr and "ERROR" not in result.stderr, result.stderr
    assert len(errors) == 1 and words in errors[0], result.stderr


def saved(run: Path) -> dict[str, bytes]:
    """Every file of a run but Hydra's records and the log (a resume rewrites those first)."""
    return {p.relative_to(run).as_posix(): p.read_bytes() for p in sorted(run.rglob("*"))
            if p.is_file() and ".hydra" not in p.parts and p.name != "train.log"}


def step(run: Path, which: str = "last") -> Path:
    return run / "checkpoint" / json.loads((run / "checkpoint" / f"{which}.json").read_text())["dir"]


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:300])


def edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


@pytest.fixture
def run(trained_run, tmp_path) -> Path:
    """A copy of the shared tiny trained run (30 steps), to damage."""
    return Path(shutil.copytree(trained_run, tmp_path / "run"))


# --- 1. init_from compares saved tokenizers -------------------------------------------------------

BPE_TEXT = ["Once upon a time there was a cat.\n", "The cat sat on a mat and was happy.\n"] * 20


def saved_source(tmp_path: Path, tokenizer, seed: int = 0) -> tuple[Path, torch.nn.Module]:
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Embedding(len(tokenizer), 4), torch.nn.Linear(4, 3))
    meta = {"format_version": 2, "step": 1, "model": "toy", "vocab": tokenizer.to_json(), "config": {}, "metrics": {}}
    save_checkpoint(tmp_path / "src" / "checkpoint", model, meta, ("last", "best"))
    return tmp_path / "src", model


@pytest.mark.parametrize("source, target, loads", [
    (ByteTokenizer, ByteTokenizer, True),
    (lambda: train_bpe(BPE_TEXT, 300), lambda: train_bpe(BPE_TEXT, 300), True),  # equal merges
    (lambda: train_bpe(BPE_TEXT, 300), lambda: train_bpe(BPE_TEXT[:2], 280), False),
    (lambda: CharVocab("abc "), ByteTokenizer, False),
    (lambda: CharVocab("abc "), lambda: CharVocab("abd "), False),
], ids=["byte-byte", "bpe-same-merges", "bpe-other-merges", "char-byte", "char-other-chars"])
def test_init_from_needs_the_same_tokenizer(tmp_path, source, target, loads):
    src, model = saved_source(tmp_path, source())
    vocab = target()
    torch.manual_seed(1)
    fresh = torch.nn.Sequential(torch.nn.Embedding(len(vocab), 4), torch.nn.Linear(4, 3))
    if not loads:
        with pytest.raises(SeqlabError, match="must share one vocabulary"):
            init_from(fresh, src, vocab, announce=False)
        return
    report = init_from(fresh, src, vocab, announce=False)
    assert report["loaded"] == 3 and not report["new"]
    torch.testing.assert_close(fresh[0].weight, model[0].weight)


def test_char_run_into_a_byte_task_is_one_line(corpus, trained_run, tmp_path):
    result = run_cli("train", f"task.source={corpus}", *TINY, "task.tokenizer=byte",
                     f"trainer.init_from={trained_run}", cwd=tmp_path)
    one_error(result, 2, "was trained with a char tokenizer of")
    assert not (tmp_path / "outputs").exists()


# --- 2. damaged files of a run folder -------------------------------------------------------------

def damage_tokenizer(meta: dict) -> None:
    meta["vocab"] = {"type": "bpe", "tokenizer": "{not json"}


DAMAGES = [  # (what is damaged, the command, exit code, words of the line)
    (lambda r: truncate(step(r) / "optimizer.safetensors"), "resume", "optimizer.safetensors' is damaged"),
    (lambda r: truncate(step(r) / "model.safetensors"), "resume", "model.safetensors' is damaged"),
    (lambda r: (step(r) / "train_state.json").write_text("{"), "resume", "train_state.json' is damaged (not valid JSON"),
    (lambda r: edit_json(step(r) / "train_state.json", lambda d: d.pop("scalars")), "resume", "has no 'scalars' field"),
    (lambda r: (step(r) / "optimizer.safetensors").unlink(), "resume", "optimizer.safetensors' is missing"),
    (lambda r: (r / "checkpoint" / "last.json").write_text("[1, 2"), "resume", "last.json' is damaged"),
    (lambda r: edit_json(r / "checkpoint" / "last.json", lambda d: d.update(dir="step_000099")), "resume",
     "names 'step_000099', which is not there"),
    (lambda r: (r / ".hydra" / "overrides.yaml").write_text("a: b\n"), "resume", "overrides.yaml' is damaged"),
    (lambda r: truncate(step(r) / "model.safetensors"), "sample", "model.safetensors' is damaged"),
    (lambda r: (step(r) / "meta.json").write_bytes(b"\xff\xfe"), "sample", "meta.json' is damaged (not UTF-8"),
    (lambda r: edit_json(step(r) / "meta.json", damage_tokenizer), "sample", "its tokenizer cannot be rebuilt"),
    (lambda r: edit_json(step(r) / "meta.json", lambda d: d.pop("config")), "sample", "has no 'config' field"),
    (lambda r: truncate(step(r) / "model.safetensors"), "eval", "model.safetensors' is damaged"),
    (lambda r: truncate(step(r, "best") / "model.safetensors"), "init_from", "trainer.init_from cannot start from it"),
]
COMMANDS = {
    "resume": lambda r, corpus: ["resume", str(r), "trainer.max_steps=40"],
    "sample": lambda r, corpus: ["sample", str(r), "-n", "5"],
    "eval": lambda r, corpus: ["eval", str(r), "--batches", "1"],
    "init_from": lambda r, corpus: ["train", f"task.source={corpus}", *TINY, f"trainer.init_from={r}"],
}


@pytest.mark.parametrize("damage, command, words", DAMAGES,
                         ids=[f"{i}-{c}" for i, (_, c, _) in enumerate(DAMAGES)])
def test_a_damaged_file_is_one_line_and_changes_nothing(run, corpus, tmp_path, damage, command, words):
    damage(run)
    before = saved(run)
    result = run_cli(*COMMANDS[command](run, corpus), cwd=tmp_path)
    one_error(result, 2, words)
    assert saved(run) == before
    assert not (tmp_path / "outputs").exists()  # an init_from run refused leaves no folder


def test_a_damaged_trackers_file_names_itself(tmp_path):
    from seqlab.tracking.run_files import load_state, save_state

    (tmp_path / "trackers.json").write_text('{"mlflow": ')
    for call in (lambda: load_state(tmp_path, "mlflow"), lambda: save_state(tmp_path, "mlflow", {})):
        with pytest.raises(DamagedFileError, match="trackers.json' is damaged .*delete it"):
            call()


# --- 3. data records whose text is no string ------------------------------------------------------

RECORDS = [  # (the second record of train.jsonl, the command, words of the line)
    ('{"text": null}', "prepare", 'record 2: its "text" is null, not a string'),
    ('{"text": 5}', "train", 'record 2: its "text" is a number (5), not a string'),
    ('{"text": ["a", "b"]}', "prepare", 'record 2: its "text" is a list'),
    ('{"title": "x"}', "prepare", 'record 2: it has no "text" field'),
    ('{"text": "a"', "prepare", "record 2: it is not valid JSON"),
    ('{"text": null}', "eval-file", 'record 2: its "text" is null'),
    ('{"text": 7.5}', "eval-folder", 'record 2: its "text" is a number (7.5)'),
]


@pytest.mark.parametrize("record, command, words", RECORDS, ids=[f"{i}-{c}" for i, (_, c, _) in enumerate(RECORDS)])
def test_a_bad_record_is_one_line_naming_file_and_record(trained_run, tmp_path, record, command, words, monkeypatch):
    monkeypatch.setenv("SEQLAB_CACHE", str(tmp_path / "cache"))
    data = write_corpus(tmp_path / "data", 5, 5)
    for split in ("train", "validation"):
        lines = (data / f"{split}.jsonl").read_text().splitlines()
        (data / f"{split}.jsonl").write_text("\n".join([lines[0], record, *lines[1:]]) + "\n")
    args = {"prepare": ["prepare", f"task.source={data}"],
            "train": ["train", f"task.source={data}", *TINY],
            "eval-file": ["eval", str(trained_run), "--source", str(data / "train.jsonl")],
            "eval-folder": ["eval", str(trained_run), "--source", str(data), "--split", "train"]}[command]
    result = run_cli(*args, cwd=tmp_path)
    one_error(result, 2, words)
    assert f"{data}/train.jsonl" in result.stderr
    assert not (tmp_path / "outputs").exists()
    cache = tmp_path / "cache"
    assert not (cache.exists() and [p for p in cache.iterdir() if p.is_dir()])  # no entry, no .tmp-*


# --- 4. a full disk while preparing data, and leftovers of killed preparations --------------------

class FullDisk:
    def __init__(self, code: int) -> None:
        self.code = code

    def write(self, data: bytes) -> None:
        raise OSError(self.code, os.strerror(self.code))

    def flush(self) -> None:
        pass

    def fileno(self) -> int:
        return 0

    def close(self) -> None:
        pass


@pytest.mark.parametrize("code, words", [
    (errno.ENOSPC, "No space left on device (it needs up to"),
    (errno.EDQUOT, "quota exceeded (it needs up to"),
    (errno.EROFS, "Read-only file system; nothing was kept"),
])
def test_a_failed_cache_write_is_one_line_and_keeps_nothing(corpus, tmp_path, monkeypatch, code, words):
    from seqlab.data import token_cache

    made = token_cache.SplitWriter.__init__

    def full(self, *args, **kwargs):
        made(self, *args, **kwargs)
        self._file.close()
        self._file = FullDisk(code)

    monkeypatch.setattr(token_cache.SplitWriter, "__init__", full)
    cache = tmp_path / "cache"
    result = run_cli("prepare", f"task.source={corpus}", f"task.cache_dir={cache}", cwd=tmp_path)
    one_error(result, 1, words)
    assert "could not write prepared data" in result.stderr
    assert [p.name for p in cache.iterdir() if not p.name.endswith(".lock")] == []


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs Linux's /dev/full")
def test_a_real_full_disk_while_preparing(corpus, tmp_path, monkeypatch):
    import builtins

    from seqlab.data import token_cache

    def full(path, mode="r"):  # the token files land on a disk with no space left
        return builtins.open("/dev/full" if str(path).endswith(".bin") else path, mode)

    monkeypatch.setattr(token_cache, "open", full, raising=False)
    cache = tmp_path / "cache"
    result = run_cli("prepare", f"task.source={corpus}", f"task.cache_dir={cache}", cwd=tmp_path)
    one_error(result, 1, "No space left on device (it needs up to")
    assert "Exception ignored" not in result.stderr and not list(cache.glob(".tmp-*"))


def test_a_killed_preparations_leftovers_are_removed(corpus, tmp_path):
    from seqlab.data.token_cache import remove_stale

    cache = tmp_path / "cache"
    cache.mkdir()
    for entry in ("tinystories-dead", "tinystories-live"):
        (cache / f".tmp-{entry}-abc123").mkdir()
        (cache / f".tmp-{entry}-abc123" / "train.bin").write_bytes(b"\0" * 10)
        (cache / f"{entry}.lock").touch()
    (cache / ".tmp-stranger-x1").mkdir()  # no lock file: not one of ours, left alone
    with open(cache / "tinystories-live.lock", "a") as held:  # a live writer holds its entry's lock
        fcntl.flock(held, fcntl.LOCK_EX)
        assert remove_stale(cache) == [cache / ".tmp-tinystories-dead-abc123"]
    assert sorted(p.name for p in cache.glob(".tmp-*")) == [".tmp-stranger-x1", ".tmp-tinystories-live-abc123"]
    result = run_cli("prepare", f"task.source={corpus}", f"task.cache_dir={cache}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert [p.name for p in cache.glob(".tmp-*")] == [".tmp-stranger-x1"]


# --- 5. signals while a run is being set up -------------------------------------------------------

@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)], ids=["SIGTERM", "SIGINT"])
def test_a_signal_while_preparing_data_cleans_up(corpus, tmp_path, monkeypatch, signum, code):
    """The signal arrives while the corpus is being encoded (a cache entry half written, the run
    folder locked): the run stops with its exit code and leaves neither behind."""
    import seqlab.data.prepare as prepare

    seen, encode = {}, prepare.encode_split

    def interrupted_encode(*args, **kwargs):
        seen["tmp"] = list((tmp_path / "cache").glob(".tmp-*"))
        seen["lock"] = list(tmp_path.glob("outputs/*/*/.lock"))
        seen["handled"] = signal.getsignal(signum) not in (signal.SIG_DFL, signal.default_int_handler)
        if seen["handled"]:  # unhandled, the signal would end the test process itself
            os.kill(os.getpid(), signum)
        time.sleep(60)
        return encode(*args, **kwargs)

    monkeypatch.setattr(prepare, "encode_split", interrupted_encode)
    result = run_cli("train", f"task.source={corpus}", *TINY, cwd=tmp_path, env={"SEQLAB_CACHE": str(tmp_path / "cache")})
    assert seen["handled"] and seen["tmp"] and seen["lock"]
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr and f"stopped by {signal.Signals(signum).name}" in result.stderr
    assert not (tmp_path / "outputs").exists() and not list((tmp_path / "cache").glob(".tmp-*"))


@pytest.mark.parametrize("left", [(".hydra", "train.log"), (".hydra", "train.log", "config.yaml", "metrics.jsonl")],
                         ids=["before its config", "before its first step"])
def test_a_folder_whose_run_was_killed_while_set_up_trains_again(corpus, trained_run, tmp_path, left):
    """kill -9 during a run's set-up leaves part of its files and no checkpoint: the same command
    with trainer.resume=auto (a requeued job, a continued search trial) trains the run from the start."""
    folder = tmp_path / "job"
    folder.mkdir()
    for name in left:
        if (trained_run / name).is_dir():
            shutil.copytree(trained_run / name, folder / name)
        elif name == "metrics.jsonl":
            (folder / name).write_text("")  # made empty at the start of a run
        else:
            shutil.copy(trained_run / name, folder / name)
    result = run_cli("train", f"task.source={corpus}", *TINY, "trainer.resume=auto", f"hydra.run.dir={folder}",
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["steps"] == 30


def test_a_fresh_run_writes_its_config_before_its_metrics(corpus, tmp_path, monkeypatch):
    """A folder with metrics.jsonl holds a run (training afresh into it is refused), and
    trainer.resume=auto continues a folder with config.yaml: written in this order, a kill between
    the two leaves one of the folders above, never metrics without a config."""
    from seqlab.runs.writer import RunDir

    config_first, rewrite = [], RunDir.rewrite_metrics
    monkeypatch.setattr(RunDir, "rewrite_metrics",
                        lambda run, records: config_first.append(run.config.exists()) or rewrite(run, records))
    assert run_cli("train", f"task.source={corpus}", *TINY, cwd=tmp_path).returncode == 0
    assert config_first == [True]


# --- 6. numbers out of range: config and sampling flags ------------------------------------------

@pytest.mark.parametrize("override, words", [
    ("trainer.lr=nan", "trainer.lr must be a finite number, got nan"),
    ("trainer.lr=inf", "trainer.lr must be a finite number, got inf"),
    ("trainer.beta1=1.5", "trainer.beta1 must be in [0, 1), got 1.5"),
    ("trainer.beta2=-0.1", "trainer.beta2 must be in [0, 1)"),
    ("trainer.grad_clip=nan", "trainer.grad_clip must be a finite number"),
    ("trainer.weight_decay=-inf", "trainer.weight_decay must be a finite number"),
    ("trainer.min_lr_ratio=2", "trainer.min_lr_ratio must be in [0, 1], got 2.0"),
    ("trainer.sample_temperature=nan", "trainer.sample_temperature must be a finite number"),
    ("trainer.sample_temperature=-1", "trainer.sample_temperature must not be negative"),
    ("trainer.flops_budget=nan", "trainer.flops_budget must be a finite number"),
    ("trainer.peak_flops=-1", "trainer.peak_flops must be positive"),
    ("trainer.dist_timeout_s=0", "trainer.dist_timeout_s must be positive"),
    ("model.dropout=1.0", "model.dropout must be in [0, 1), got 1.0"),
])
def test_a_number_out_of_range_is_refused_before_anything_runs(corpus, tmp_path, override, words):
    one_error(run_cli("train", f"task.source={corpus}", *TINY, override, cwd=tmp_path), 2, words)
    assert not (tmp_path / "outputs").exists()


@pytest.mark.parametrize("flags, words", [
    (["--temperature", "nan"], "--temperature must be a finite number >= 0"),
    (["--temperature", "inf"], "--temperature must be a finite number >= 0"),
    (["--temperature", "-1"], "--temperature must be a finite number >= 0"),
    (["--top-p", "nan"], "--top-p must be in (0, 1]"),
    (["--top-k", "-2"], "--top-k must be 0 (off) or positive"),
    (["--num-samples", "0"], "--num-samples must be positive"),
])
def test_a_sampling_flag_out_of_range_is_one_line(trained_run, tmp_path, flags, words):
    one_error(run_cli("sample", str(trained_run), *flags, cwd=tmp_path), 2, words)


def test_temperature_zero_is_greedy(trained_run, tmp_path):
    outs = [run_cli("sample", str(trained_run), "--temperature", "0", "-n", "20", "--seed", seed, cwd=tmp_path)
            for seed in ("1", "2")]
    assert all(r.returncode == 0 for r in outs), outs[0].stderr
    assert outs[0].stdout == outs[1].stdout  # no randomness left to differ


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_weights_that_overflowed_are_one_line(run, tmp_path, value):
    weights = step(run) / "model.safetensors"
    tensors = load_file(str(weights))
    tensors["head.weight"][0, 0] = value
    save_file(tensors, str(weights))
    one_error(run_cli("sample", str(run), "-n", "5", cwd=tmp_path), 2,
              "has non-finite weights (nan or inf in 1 tensor(s), e.g. head.weight)")


class Logits(torch.nn.Module):
    """A model whose every call returns the same logits (what overflowing weights produce)."""

    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def forward(self, ids: torch.Tensor, state=None):
        return torch.full((ids.shape[0], ids.shape[1], 5), self.value).index_fill(2, torch.tensor([1]), 0.0), None


@pytest.mark.parametrize("value, temperature", [
    (float("inf"), 1.0), (float("nan"), 0.8), (float("nan"), 0.0), (3e38, 0.5),  # the last: finite until scaled
])
def test_logits_that_overflow_are_one_clear_error(value, temperature):
    from seqlab.sampling import sample_texts

    with pytest.raises(SeqlabError, match="the model's outputs are not finite"):
        sample_texts(Logits(value), CharVocab("abcd"), "ab", 2, 4, temperature, seed=0)
    assert sample_texts(Logits(-3.0), CharVocab("abcd"), "ab", 1, 4, 0.0) == ["abbbbb"]  # greedy: id 1, 'b'



# --- 7. smaller ones: init_from across families, folders, Hydra grammar, DDP leftovers ------------

TRANSFORMER = ["model=transformer", "model.n_layer=1", "model.n_embd=16", "model.n_head=2", "model.block_size=20",
               "task.seq_len=20", *TINY_TRAINER, "trainer.max_steps=2", "trainer.eval_every=2"]


@pytest.mark.parametrize("partial", [False, True])
def test_init_from_another_family_needs_the_opt_in(corpus, trained_run, tmp_path, partial):
    result = run_cli("train", f"task.source={corpus}", *TRANSFORMER, f"trainer.init_from={trained_run}",
                     f"trainer.init_from_partial={str(partial).lower()}", cwd=tmp_path)
    if not partial:
        one_error(result, 2, "no tensor of")
        assert "trainer.init_from_partial=true" in result.stderr and not (tmp_path / "outputs").exists()
        return
    assert result.returncode == 0, result.stderr
    assert "loaded 0 tensors" in result.stdout and "warning: trainer.init_from: nothing of" in result.stderr


@pytest.mark.parametrize("folder, words", [
    (lambda t: os.symlink(t / "nowhere" / "x", t / "link") or t / "link", "is a symbolic link to"),
    (lambda t: t / "runé", "Hydra reads this value only in quotes; write hydra.run.dir='"),
], ids=["dangling-symlink", "unquoted-unicode"])
def test_a_run_folder_that_cannot_be_made_says_why(corpus, tmp_path, folder, words):
    path = folder(tmp_path)
    one_error(run_cli("train", f"task.source={corpus}", *TINY, f"hydra.run.dir={path}", cwd=tmp_path), 2, words)
    assert not (tmp_path / "runé").exists()


class Worker(SimpleNamespace):
    def is_alive(self) -> bool:
        return False


@pytest.mark.parametrize("checkpoint, words", [
    (True, "the run stopped; its last checkpoint, step 30, is intact: continue with: seqlab resume"),
    (False, "the run stopped before its first checkpoint: start it again"),
])
def test_a_killed_rank_is_one_line_and_a_failed_summary(run, tmp_path, capsys, checkpoint, words):
    from omegaconf import OmegaConf

    from seqlab.launch.spawn import SignalForwarder, record_failure, watch

    if not checkpoint:
        shutil.rmtree(run / "checkpoint")
    workers = [Worker(exitcode=0, pid=0), Worker(exitcode=-9, pid=0)]
    code, why = watch(workers, SignalForwarder(workers), run)
    assert code == 1 and capsys.readouterr().err == f"error: {why}\n"
    assert why.startswith("rank 1 of 2 was killed by SIGKILL") and words in why
    record_failure(OmegaConf.create({"model": {"name": "gru"}, "task": {"name": "tinystories"},
                                     "trainer": {"devices": 2}}), run, why)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "failed" and summary["error"] == why


def test_a_store_left_by_a_killed_launcher_is_reclaimed(tmp_path):
    from seqlab.launch.spawn import OWNER, STORE_PREFIX, hold_store, reclaim_stale_stores

    dead, live, other = (tmp_path / f"{STORE_PREFIX}{n}" for n in ("dead", "live", "other"))
    for store in (dead, live, other):
        store.mkdir()
    (dead / OWNER).touch()  # its processes are gone: nobody holds the lock
    fd = hold_store(live)
    try:
        assert reclaim_stale_stores(tmp_path) == [dead]
    finally:
        os.close(fd)
    assert live.is_dir() and other.is_dir() and not dead.exists()


def test_a_library_logger_stays_off_the_console(tmp_path, capfd):
    pytest.importorskip("mlflow")
    import mlflow  # noqa: F401 - its import puts its own stderr handler on its loggers

    from seqlab.tracking.base import keep_off_console
    from seqlab.tracking.mlflow_tracker import MLflowTracker

    loggers = [logging.getLogger(n) for n in MLflowTracker.loggers]
    before = [(lg.handlers[:], lg.propagate) for lg in loggers]
    log_file = logging.FileHandler(tmp_path / "train.log")
    logging.getLogger().addHandler(log_file)
    try:
        keep_off_console(MLflowTracker.loggers)
        logging.getLogger("mlflow.utils.async_logging.async_logging_queue").error("Failed to log run data")
    finally:
        logging.getLogger().removeHandler(log_file)
        log_file.close()
        for lg, (handlers, propagate) in zip(loggers, before):
            lg.handlers[:], lg.propagate = handlers, propagate
    captured = capfd.readouterr()
    assert "Failed to log" not in captured.err + captured.out
    assert "Failed to log run data" in (tmp_path / "train.log").read_text()
