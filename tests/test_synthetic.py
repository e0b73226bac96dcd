"""The synthetic tasks: generators right by construction, seeded, test sets held out, loss masks."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import run_cli
from omegaconf import OmegaConf

from seqlab.errors import SeqlabError
from seqlab.registry import build_task, check_serves, pair
from seqlab.tasks.config import (
    AssocRecallConfig,
    CopyConfig,
    FirstTokenConfig,
    RepeatConfig,
    ReverseConfig,
    SortConfig,
)
from seqlab.tasks.seq2seq_task import PairBatch, as_sequence
from seqlab.tasks.synthetic_data import SEP, row_keys

CONFIGS = {"first_token": FirstTokenConfig, "copy": CopyConfig, "reverse": ReverseConfig,
           "sort": SortConfig, "assoc_recall": AssocRecallConfig}


def make(name: str, **kw):
    return build_task(OmegaConf.structured(CONFIGS[name](**kw)))


def symbols(task, ids: torch.Tensor) -> str:
    return task.vocab.decode(ids.tolist())


@pytest.mark.parametrize("name", list(CONFIGS))
def test_shapes_and_vocab(name):
    task = make(name, length=6, num_symbols=8, test_size=50)
    batch = task.train_batch(5, torch.Generator().manual_seed(0))
    S, T = {"first_token": (6, 1), "assoc_recall": (13, 1)}.get(name, (6, 6))
    assert batch.source.shape == (5, S) and batch.target.shape == (5, T)
    assert batch.num_tokens == 5 * (S + T)
    assert SEP in task.vocab.chars and len(task.vocab) == 8 + 2  # symbols, SEP, the unknown id
    assert int(batch.source.max()) < len(task.vocab) - 1  # never the unknown id
    src, tgt = task.data.test[6]
    assert src.shape == (50, S) and tgt.shape == (50, T)


def test_labels_right_by_construction():
    g = torch.Generator().manual_seed(1)
    for name in CONFIGS:
        task = make(name, length=7, num_symbols=9)
        batch = task.train_batch(64, g)
        for s, t in zip(batch.source, batch.target):
            src, tgt = symbols(task, s), symbols(task, t)
            expected = {"first_token": src[0], "copy": src, "reverse": src[::-1], "sort": "".join(sorted(src)),
                        "assoc_recall": dict(zip(src[:-1:2], src[1:-1:2])).get(src[-1])}[name]
            assert tgt == expected, (name, src, tgt)
            if name == "assoc_recall":
                assert len(set(src[:-1:2])) == 7  # distinct keys


@pytest.mark.parametrize("name", list(CONFIGS))
def test_deterministic_for_a_seed(name):
    a, b = (make(name, length=5, num_symbols=6, test_size=30) for _ in range(2))
    c = make(name, length=5, num_symbols=6, test_size=30, data_seed=1)
    assert torch.equal(a.data.test[5][0], b.data.test[5][0])
    assert not torch.equal(a.data.test[5][0], c.data.test[5][0])
    x = a.train_batch(8, torch.Generator().manual_seed(3))
    y = b.train_batch(8, torch.Generator().manual_seed(3))
    assert torch.equal(x.source, y.source) and torch.equal(x.target, y.target)


@pytest.mark.parametrize("train_size", [200, 0])
def test_test_set_disjoint_from_train(train_size):
    # 3**6 = 729 sources: a test set of 150 makes collisions certain unless they are rejected
    task = make("copy", length=6, num_symbols=3, test_size=150, train_size=train_size)
    test = set(row_keys(task.data.test[6][0]))
    g = torch.Generator().manual_seed(0)
    seen = set()
    for _ in range(20):
        seen |= set(row_keys(task.data.train_examples(64, g)[0]))
    assert seen and not seen & test
    if train_size:
        assert len(seen) <= train_size


def test_space_too_small_fails_clearly():
    with pytest.raises(SeqlabError, match="distinct"):
        make("copy", length=3, num_symbols=2, test_size=100)
    with pytest.raises(SeqlabError, match="distinct keys"):
        make("assoc_recall", length=5, num_symbols=4)


def test_loss_mask_covers_only_the_target():
    task = make("reverse", length=5)
    batch = task.train_batch(3, torch.Generator().manual_seed(0))
    seq = as_sequence(batch, task.sep_id)
    assert seq.inputs.shape == seq.targets.shape == (3, 5 + 5)  # source SEP target, shifted by one
    assert (seq.inputs[:, 5] == task.sep_id).all()
    assert (seq.targets[:, :5] == -100).all()  # source and SEP: no loss
    assert torch.equal(seq.targets[:, 5:], batch.target)  # exactly the target tokens
    assert torch.equal(seq.inputs[:, 6:], batch.target[:, :-1])  # teacher forcing


def test_loss_ignores_the_source():
    """A decoder-only model's loss does not change when only the source logits change."""
    task = make("copy", length=4)
    batch = task.train_batch(2, torch.Generator().manual_seed(0))
    assert isinstance(batch, PairBatch)
    V = len(task.vocab)

    class Fixed(torch.nn.Module):
        def __init__(self, noise_on_source: bool):
            super().__init__()
            self.noise = noise_on_source

        def forward(self, idx, state=None):
            logits = torch.nn.functional.one_hot(idx.roll(-1, 1), V).float() * 5
            if self.noise:
                logits[:, :4] += torch.randn(idx.size(0), 4, V) * 10
            return logits, None

    assert torch.allclose(task.loss(Fixed(False), batch), task.loss(Fixed(True), batch))


def test_repeat_task():
    task = build_task(OmegaConf.structured(RepeatConfig(seq_len=12)))
    batch = task.train_batch(4, torch.Generator().manual_seed(0))
    text = task.vocab.decode(batch.inputs[0].tolist())
    assert text in "abca " * 6 and len(text) == 12
    assert (batch.targets[:, :4] == -100).all() and (batch.targets[:, 4:] >= 0).all()
    rand = build_task(OmegaConf.structured(RepeatConfig(seq_len=12, pattern="", period=3, test_size=20)))
    b = rand.train_batch(4, torch.Generator().manual_seed(0))
    assert torch.equal(b.inputs[:, :3], b.inputs[:, 3:6])  # periodic with period 3
    assert (b.targets[:, :2] == -100).all()  # the first period is not predictable


def test_pairing_fails_with_the_list_of_tasks():
    with pytest.raises(SeqlabError, match="cannot serve task 'first_token'.*copy"):
        pair(OmegaConf.create({"name": "seq2seq_rnn"}), make("first_token", length=12))
    with pytest.raises(SeqlabError, match="cannot serve task 'repeat'"):
        check_serves("seq2seq_transformer", "repeat")
    pair(OmegaConf.create({"name": "gru"}), make("first_token", length=12))
    with pytest.raises(SeqlabError, match="block_size"):
        pair(OmegaConf.create({"name": "transformer", "block_size": 20}), make("copy", length=12))
    pair(OmegaConf.create({"name": "transformer", "block_size": 24}), make("copy", length=12))


def test_pairing_tells_the_task_how_the_model_is_fed():
    """The spec, not the model object, says encoder-decoder: a wrapped model changes nothing."""
    task = make("copy", length=5)
    pair(OmegaConf.create({"name": "seq2seq_rnn"}), task)
    assert task.encoder_decoder and task.context_length() == 5
    pair(OmegaConf.create({"name": "transformer", "block_size": 64}), task)
    assert not task.encoder_decoder and task.block_size == 64 and task.context_length() == 10


@pytest.mark.slow
def test_cli_trains_on_copy(tmp_path):
    result = run_cli("train", "model=transformer", "task=copy", "model.n_layer=1", "model.n_embd=32",
                     "model.block_size=16", "task.length=6", "task.test_size=64", "task.eval_lengths=[6,9]",
                     "trainer.max_steps=20", "trainer.eval_every=10", "trainer.log_every=5",
                     "trainer.batch_size=16", "device=cpu", "threads=1", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (run,) = (tmp_path / "outputs").glob("*/*_transformer_copy")
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "completed" and 0 <= summary["final_val_acc"] <= 1
    assert summary["skipped_eval_lengths"] == [9]  # 9 + 9 positions do not fit block_size 16
    evals = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert {"val_loss", "val_acc", "val_seq_acc", "val_seq_acc@6"} <= evals[-1].keys()
    assert "val_seq_acc@9" not in evals[-1]
    assert " = " in (run / "samples.txt").read_text()
    # the model answers a typed source; free-text sampling is refused with a hint
    answer = run_cli("sample", str(run), "--source", "1 2 3 4 5 6", cwd=tmp_path)
    assert answer.returncode == 0, answer.stderr
    assert len(answer.stdout.split()) >= 1
    refused = run_cli("sample", str(run), cwd=tmp_path)
    assert refused.returncode == 2 and "--source" in refused.stderr
    assert (run / "loss.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_impossible_pairing_fails_before_training(tmp_path):
    result = run_cli("train", "model=seq2seq_rnn", "task=first_token", "device=cpu", cwd=tmp_path)
    assert result.returncode == 2 and "cannot serve" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
