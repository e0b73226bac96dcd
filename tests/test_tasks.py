"""TinyStories loading, caching and batching on a tiny local corpus."""

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from seqlab.data.prepare import prepare
from seqlab.data.tokenizers.char import CharVocab
from seqlab.errors import SeqlabError
from seqlab.tasks.char_lm import CharLMTask
from seqlab.tasks.tinystories import build_tinystories


def task_cfg(source, tmp_path, **kw):
    base = dict(name="tinystories", source=str(source), max_chars=5000, val_max_chars=None,
                tokenizer="char", vocab_size=4096, seq_len=16, cache_dir=str(tmp_path / "cache"))
    return OmegaConf.create({**base, **kw})


def test_targets_are_inputs_shifted_by_one(corpus, tmp_path):
    task = build_tinystories(task_cfg(corpus, tmp_path))
    batch = task.train_batch(8, torch.Generator().manual_seed(0))
    assert batch.inputs.shape == batch.targets.shape == (8, 16)
    assert torch.equal(batch.inputs[:, 1:], batch.targets[:, :-1])
    # Each row is a real window of the training text.
    text = task.vocab.decode(task.train_data)
    row = task.vocab.decode(torch.cat([batch.inputs[0], batch.targets[0, -1:]]).tolist())
    assert row in text


def test_max_chars_and_join(corpus, tmp_path):
    task = build_tinystories(task_cfg(corpus, tmp_path, max_chars=1234))
    assert len(task.train_data) == 1234
    text = task.vocab.decode(task.train_data)
    first = (corpus / "train.jsonl").read_text().splitlines()[0]
    import json
    story = json.loads(first)["text"]
    assert text.startswith(story + "\n")  # stories joined by a newline


def test_batches_are_seeded():
    vocab = CharVocab.from_text("abcdefgh")
    data = vocab.encode("abcdefgh" * 50)
    task = CharLMTask(data, data, vocab, seq_len=5)
    a = task.train_batch(4, torch.Generator().manual_seed(3))
    b = task.train_batch(4, torch.Generator().manual_seed(3))
    assert torch.equal(a.inputs, b.inputs)


def test_eval_windows_fixed_and_whole_split():
    vocab = CharVocab.from_text("abcdefgh")
    data = vocab.encode("abcdefgh" * 50)  # 400 chars
    task = CharLMTask(data, data, vocab, seq_len=10)
    first = [b.inputs for b in task.eval_batches(4, 3)]
    again = [b.inputs for b in task.eval_batches(4, 3)]
    assert all(torch.equal(x, y) for x, y in zip(first, again))
    assert sum(len(x) for x in first) == 12
    whole = list(task.eval_batches(16, None))
    assert sum(b.inputs.numel() for b in whole) == (400 - 11) // 10 * 10 + 10


def test_second_load_uses_cache_not_datasets(corpus, tmp_path, monkeypatch):
    cfg = task_cfg(corpus, tmp_path, max_chars=3000)
    first = prepare(cfg)
    import datasets

    def boom(*a, **k):
        raise AssertionError("datasets.load_dataset called on a cache hit")

    monkeypatch.setattr(datasets, "load_dataset", boom)
    second = prepare(cfg)
    assert np.array_equal(first.tokens("train"), second.tokens("train"))
    assert first.meta["tokenizer"] == second.meta["tokenizer"]


def test_unknown_validation_characters_are_counted(tmp_path):
    import json
    folder = tmp_path / "ts"
    folder.mkdir()
    (folder / "train.jsonl").write_text(json.dumps({"text": "abc abc abc " * 20}) + "\n")
    (folder / "validation.jsonl").write_text(json.dumps({"text": "abc €€ abc " * 5}) + "\n")
    task = build_tinystories(task_cfg(folder, tmp_path, seq_len=4))
    assert task.summary()["unknown_chars"] == 10


def test_missing_local_source_is_one_clear_error(tmp_path):
    with pytest.raises(SeqlabError, match="no such folder"):
        build_tinystories(task_cfg(tmp_path / "nope", tmp_path))


def test_too_little_text_for_one_example(tmp_path):
    import json
    folder = tmp_path / "small"
    folder.mkdir()
    for split in ("train", "validation"):
        (folder / f"{split}.jsonl").write_text(json.dumps({"text": "tiny"}) + "\n")
    with pytest.raises(SeqlabError, match="needs at least"):
        build_tinystories(task_cfg(folder, tmp_path, seq_len=50))


def test_windows_sampled_on_the_device_equal_the_host_ones():
    """The GPU path (training tokens kept on the device) draws the same windows from the same
    generator; checked here with the CPU standing in for the device."""
    import numpy as np
    import torch

    from seqlab.data.tokenizers.char import CharVocab
    from seqlab.tasks.char_lm import CharLMTask

    data = np.random.default_rng(0).integers(0, 9, 400).astype(np.uint8)
    host = CharLMTask(data, data, CharVocab("abcdefgh"), seq_len=7)
    device = CharLMTask(data, data, CharVocab("abcdefgh"), seq_len=7)
    device.to_device(torch.device("cpu"))
    host.place(torch.device("cpu"))  # not a GPU: nothing moves
    assert host._on_device is None
    a = host.train_batch(5, torch.Generator().manual_seed(1))
    b = device.train_batch(5, torch.Generator().manual_seed(1))
    assert torch.equal(a.inputs, b.inputs) and torch.equal(a.targets, b.targets)
