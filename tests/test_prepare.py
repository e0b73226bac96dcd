"""Streamed preparation into token files: same ids as encoding in memory, damage is rebuilt,
concurrent prepares share one entry, training reads memmaps, `seqlab prepare` end to end."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import run_cli
from omegaconf import OmegaConf

from seqlab.data import prepare as prepare_module
from seqlab.data import text_source
from seqlab.data.prepare import prepare
from seqlab.data.token_cache import META, TokenFile, read_entry
from seqlab.errors import SeqlabError
from seqlab.tasks.tinystories import build_tinystories

# Read before conftest's isolation removes it from the environment: the shared slice.
SHARED_SLICE = os.environ.get("SEQLAB_TINYSTORIES")


def task_cfg(source, cache: Path, **kw):
    base = dict(name="tinystories", source=str(source), max_chars=5000, val_max_chars=None,
                tokenizer="char", vocab_size=300, seq_len=16, cache_dir=str(cache))
    return OmegaConf.create({**base, **kw})


def in_memory_encoding(source: Path, split: str, limit: int | None, chars: np.ndarray | None = None):
    """Today's rule, written independently: all stories joined by a newline, cut, then the
    sorted distinct code points of the training text as ids (searchsorted), unknown = len."""
    lines = (source / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()
    text = "\n".join(json.loads(line)["text"] for line in lines if line.strip())
    text = text if limit is None else text[:limit]
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    chars = np.unique(codes) if chars is None else chars
    ids = np.searchsorted(chars, codes)
    known = chars[np.minimum(ids, len(chars) - 1)] == codes
    return np.where(known, ids, len(chars)), chars


@pytest.mark.parametrize("where", ["tiny", "shared"])
def test_streamed_encoding_equals_in_memory_encoding(where, corpus, tmp_path, monkeypatch):
    if where == "shared":
        if not SHARED_SLICE:
            pytest.skip("SEQLAB_TINYSTORIES is not set (the shared TinyStories slice)")
        source, limit = Path(SHARED_SLICE), None  # the whole split, in chunks of 1000 stories
    else:  # many chunk boundaries, and a cut inside a chunk
        monkeypatch.setattr(text_source, "ROWS_PER_CHUNK", 7)
        source, limit = corpus, 20_011
    entry = prepare(task_cfg(source, tmp_path / "cache", max_chars=limit))
    train, chars = in_memory_encoding(source, "train", limit)
    val, _ = in_memory_encoding(source, "validation", None, chars)
    assert entry.meta["tokenizer"]["chars"] == "".join(map(chr, chars.tolist()))
    assert np.array_equal(entry.tokens("train"), train)
    assert np.array_equal(entry.tokens("validation"), val)
    assert entry.tokens("train").dtype == np.uint8
    assert entry.split_info("validation")["unknown"] == int((val == len(chars)).sum())


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:-3])


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage, target", [(_truncate, "train.bin"), (_flip_a_byte, "validation.bin"),
                                            (Path.unlink, META)])
def test_damaged_entry_is_detected_and_rebuilt(damage, target, corpus, tmp_path, monkeypatch):
    cfg = task_cfg(corpus, tmp_path / "cache")
    good = prepare(cfg)
    expected = {s: np.array(good.tokens(s)) for s in ("train", "validation")}
    damage(good.folder / target)
    assert read_entry(good.folder) is None  # never trained on
    builds = []
    real_build = prepare_module._build
    monkeypatch.setattr(prepare_module, "_build", lambda *a: builds.append(1) or real_build(*a))
    again = prepare(cfg)
    assert builds == [1] and read_entry(again.folder) is not None
    for split, ids in expected.items():
        assert np.array_equal(again.tokens(split), ids)
    assert [p.name for p in again.folder.parent.iterdir() if p.name.startswith(".")] == []


def test_two_concurrent_prepares_leave_one_good_entry(corpus, tmp_path):
    cache = tmp_path / "cache"
    results = [None, None]

    def one(i: int) -> None:
        results[i] = run_cli("prepare", f"task.source={corpus}", "task.max_chars=20000",
                             cwd=tmp_path, env={"SEQLAB_CACHE": str(cache)}, process=True)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r.returncode == 0 for r in results), [r.stderr for r in results]
    folders = {r.stdout.strip() for r in results}
    assert len(folders) == 1
    entries = [p for p in cache.iterdir() if p.is_dir()]
    assert entries == [Path(folders.pop())] and read_entry(entries[0]) is not None
    # One process built it; the other waited on the lock and found it ready.
    assert sum("prepared train" in r.stderr for r in results) == 1


def test_training_reads_token_files_and_the_summary_counts_chars(corpus, tmp_path, monkeypatch):
    import numpy as np

    from seqlab.data import token_cache

    small = build_tinystories(task_cfg(corpus, tmp_path / "cache", max_chars=None))
    assert isinstance(small.train_data, np.ndarray)  # a small split is read whole
    monkeypatch.setattr(token_cache, "IN_MEMORY_BYTES", 0)  # as if the corpus were large
    task = build_tinystories(task_cfg(corpus, tmp_path / "cache", max_chars=None))
    assert isinstance(task.train_data, TokenFile) and isinstance(task.val_data, TokenFile)
    g = torch.Generator()
    assert torch.equal(small.train_batch(4, g.manual_seed(0)).inputs, task.train_batch(4, g.manual_seed(0)).inputs)
    summary = task.summary()
    stories = (corpus / "train.jsonl").read_text().splitlines()
    whole = sum(len(json.loads(s)["text"]) for s in stories) + len(stories) - 1
    assert summary["train_chars"] == summary["train_tokens"] == whole  # max_chars=null: all of it


@pytest.mark.parametrize("override, words", [
    ("task.max_chars=0", "positive or null"),
    ("task.tokenizer=words", "task.tokenizer must be one of"),
])
def test_bad_settings_are_one_clear_error(override, words, corpus, tmp_path):
    key, value = override.split("=")
    with pytest.raises(SeqlabError, match=words):
        prepare(task_cfg(corpus, tmp_path, **{key.split(".")[1]: int(value) if value.isdigit() else value}))


def test_prepare_command_then_a_cache_hit(corpus, tmp_path):
    args = ("prepare", "task=tinystories", f"task.source={corpus}", "task.max_chars=null")
    first = run_cli(*args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "prepared train" in first.stderr and "MB/s" in first.stderr and "already" not in first.stderr
    second = run_cli(*args, cwd=tmp_path)
    assert second.returncode == 0 and second.stdout == first.stdout
    assert second.stderr.startswith("already prepared: train")
    assert read_entry(Path(first.stdout.strip())) is not None


@pytest.mark.parametrize("args, words", [
    (("task=copy",), "nothing to prepare"),
    (("task.source={corpus}", "task.tokenizer=bpe", "task.vocab_size=10"), "task.vocab_size must be in"),
])
def test_prepare_command_errors_exit_2(args, words, corpus, tmp_path):
    result = run_cli("prepare", *(a.format(corpus=corpus) for a in args), cwd=tmp_path)
    assert result.returncode == 2 and words in result.stderr and "Traceback" not in result.stderr
