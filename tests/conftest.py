"""Shared fixtures: a tiny TinyStories-shaped corpus and an isolated environment."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

NAMES = ["Lily", "Tom", "Sam", "Mia", "Ben"]
THINGS = ["a red ball", "a big cat", "a small boat", "a shiny star", "a green frog"]
PLACES = ["the park", "the garden", "the beach", "the forest"]


def make_story(rng: random.Random) -> str:
    name, thing, place = rng.choice(NAMES), rng.choice(THINGS), rng.choice(PLACES)
    return (f"Once upon a time, {name} went to {place}. {name} saw {thing}. "
            f"{name} was very happy and played with {thing} all day.")


def write_corpus(folder: Path, train_stories: int = 300, val_stories: int = 40, seed: int = 0) -> Path:
    """A local `datasets` source laid out like TinyStories: train.jsonl, validation.jsonl."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for split, count in (("train", train_stories), ("validation", val_stories)):
        with open(folder / f"{split}.jsonl", "w", encoding="utf-8") as f:
            for _ in range(count):
                f.write(json.dumps({"text": make_story(rng)}) + "\n")
    return folder


# The test files that take longest (CPU seconds measured file by file, heaviest first). `make
# test` hands whole files to its two workers in collection order (xdist --dist loadfile
# --no-loadscope-reorder), so these start first and the workers end together; the rest follow in
# name order.
SLOWEST_FIRST = ("test_readme.py", "test_distributed.py", "test_docs_studies.py", "test_robustness.py",
                 "test_modern_families.py", "test_docs_results.py", "test_faults.py", "test_reproduce.py",
                 "test_search.py", "test_tracking.py", "test_run_folder.py")


def pytest_collection_modifyitems(items: list) -> None:
    rank = {name: i for i, name in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: a file's order is kept


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> Path:
    return write_corpus(tmp_path_factory.mktemp("tinystories"))


ISOLATED = ("SEQLAB_CACHE", "HF_DATASETS_CACHE", "HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")


@pytest.fixture(scope="session", autouse=True)
def isolated_session(tmp_path_factory):
    """The same isolation for session- and module-scoped fixtures (they run before the per-test
    one): no shared ~/.cache/seqlab, no network."""
    base = tmp_path_factory.getbasetemp()
    saved = {k: os.environ.get(k) for k in ISOLATED}
    os.environ.update({"SEQLAB_CACHE": str(base / "seqlab-cache"), "HF_DATASETS_CACHE": str(base / "hf-cache"),
                       "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"})
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory, monkeypatch):
    """Caches and outputs go to temp folders; nothing reaches the network."""
    base = tmp_path_factory.getbasetemp()
    monkeypatch.setenv("SEQLAB_CACHE", str(base / "seqlab-cache"))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(base / "hf-cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.delenv("SEQLAB_TINYSTORIES", raising=False)
    monkeypatch.delenv("SEQLAB_CONFIG_DIR", raising=False)
    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)


def run_cli(*args: str, cwd: Path, env: dict | None = None, timeout: int = 300,
            process: bool = False) -> subprocess.CompletedProcess:
    """`seqlab ARGS` as a user would run it, one thread for torch: in this process (tests/inprocess.py),
    or with `process=True` as `python -m seqlab ARGS` in a new one (signals, locks, launchers)."""
    if not process and not os.environ.get("SEQLAB_TEST_PROCESSES"):  # =1: every run in its own process
        from inprocess import run_in_process

        return run_in_process(list(args), Path(cwd), {"COLUMNS": "200", **(env or {})})
    full_env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", "COLUMNS": "200", **(env or {})}
    return subprocess.run([sys.executable, "-m", "seqlab", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def warm_seqlab(tmp_path_factory):
    """`seqlab` as a process of its own, forked from a process that imported torch and seqlab once
    (tests/zygote.py): `warm_seqlab.start(args, cwd, env)` is used like subprocess.Popen, for the
    tests that signal, kill or race a run."""
    from zygote import Zygote

    zygote = Zygote({**os.environ, "OMP_NUM_THREADS": "1"}, tmp_path_factory.mktemp("zygote"))
    yield zygote
    zygote.close()


# Overrides that make a training run take seconds on the tiny corpus (any model).
TINY_TRAINER = ["trainer.max_steps=30", "trainer.eval_every=15", "trainer.eval_batches=4",
                "trainer.log_every=5", "trainer.batch_size=8", "trainer.sample_tokens=20",
                "device=cpu", "threads=1"]
# ... and a small default GRU.
TINY = [*TINY_TRAINER, "model.embed_size=16", "model.hidden_size=32"]


@pytest.fixture(scope="session")
def trained_run(corpus, tmp_path_factory) -> Path:
    """One tiny GRU run on the tiny corpus, trained once through the CLI and shared."""
    work = tmp_path_factory.mktemp("trained")
    result = run_cli("train", f"task.source={corpus}", *TINY, cwd=work)
    assert result.returncode == 0, result.stderr
    runs = list((work / "outputs").glob("*/*_gru_tinystories"))
    assert len(runs) == 1, runs
    return runs[0]


def wait_for(condition, timeout: float = 120) -> None:
    """Poll `condition` until it holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def descendants(pid: int) -> list[int]:
    """The processes below `pid`: its children, theirs, and so on (Linux's /proc)."""
    found, frontier = [], [pid]
    while frontier:
        below = [child for parent in frontier for child in children(parent)]
        found += below
        frontier = below
    return found


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (Linux's /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found
