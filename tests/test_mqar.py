"""MQAR: the generator is right by construction, seeded, held out; the task trains and reports
answer accuracy; a configuration no example fits is one line."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import run_cli
from omegaconf import OmegaConf

from seqlab.data.tokenizers.char import CharVocab
from seqlab.errors import SeqlabError
from seqlab.registry import build_task
from seqlab.tasks.config import MQARConfig
from seqlab.tasks.mqar import mqar
from seqlab.tasks.synthetic_data import row_keys


def make(**kw):
    return build_task(OmegaConf.structured(MQARConfig(**kw)))


@pytest.mark.parametrize("seq_len,pairs,vocab", [(64, 4, 8192), (128, 8, 256), (16, 4, 16)])
def test_every_query_asks_a_key_given_earlier_and_its_answer_is_that_keys_value(seq_len, pairs, vocab):
    inputs, targets = mqar(300, seq_len, pairs, vocab, torch.Generator().manual_seed(1))
    assert inputs.shape == targets.shape == (300, seq_len)
    assert int(inputs.min()) >= 0 and int(inputs.max()) < vocab
    half, context = vocab // 2, 2 * pairs
    for row_in, row_t in zip(inputs, targets):
        keys, values = row_in[0:context:2], row_in[1:context:2]
        assert bool(((keys >= 1) & (keys < half)).all()) and bool(((values >= half) & (values < vocab)).all())
        assert len(set(keys.tolist())) == pairs and len(set(values.tolist())) == pairs  # distinct
        asked = (row_t != -100).nonzero().flatten()
        assert len(asked) == pairs  # every key queried once
        assert bool((asked >= context).all()) and bool(((asked - context) % 2 == 0).all())
        stored = dict(zip(keys.tolist(), values.tolist()))
        assert sorted(row_in[asked].tolist()) == sorted(stored)
        for pos in asked.tolist():
            assert row_t[pos].item() == stored[row_in[pos].item()]  # the value of the key at the query


def test_queries_sit_mostly_near_the_pairs_with_zoologys_power_law():
    _, targets = mqar(2000, 256, 4, 8192, torch.Generator().manual_seed(0), power_a=0.01)
    offsets = ((targets != -100).nonzero()[:, 1] - 8) // 2
    assert (offsets < 30).float().mean() > 0.5 and int(offsets.max()) > 60  # skewed, with a long tail


def test_seeded_and_train_never_repeats_a_test_example():
    a, b = make(seq_len=8, num_kv_pairs=2, vocab_size=8, test_size=200), make(seq_len=8, num_kv_pairs=2,
                                                                              vocab_size=8, test_size=200)
    assert torch.equal(a.test.inputs, b.test.inputs) and torch.equal(a.test.targets, b.test.targets)
    other = make(seq_len=8, num_kv_pairs=2, vocab_size=8, test_size=200, data_seed=1)
    assert not torch.equal(a.test.inputs, other.test.inputs)
    g = torch.Generator().manual_seed(0)  # a tiny space: collisions would happen if not excluded
    seen = {key for _ in range(50) for key in row_keys(a.train_batch(64, g).inputs)}
    assert not seen & a.test_keys
    finite = make(seq_len=8, num_kv_pairs=2, vocab_size=8, test_size=200, train_size=300)
    assert not set(row_keys(finite.train.inputs)) & finite.test_keys


def test_loss_and_accuracy_count_the_answers_only():
    task = make(seq_len=16, num_kv_pairs=2, vocab_size=32, test_size=20)

    class Oracle(torch.nn.Module):  # puts all mass on the right answer at answer positions
        def forward(self, x):
            logits = torch.zeros(*x.shape, 32)
            t = task.test.targets[: len(x)]
            logits[t != -100, t[t != -100]] = 50.0
            return logits, None

    metrics = task.evaluate(Oracle(), 20, None, torch.device("cpu"))
    assert metrics["val_acc"] == 1.0 and metrics["val_seq_acc"] == 1.0 and metrics["val_loss"] < 1e-6


def test_the_vocabulary_round_trips_through_its_saved_form():
    vocab = make(seq_len=16, num_kv_pairs=2, vocab_size=300).vocab
    back = CharVocab.from_json(json.loads(json.dumps(vocab.to_json())))
    assert len(back) == 300 and back.decode(back.encode("3 299 0")) == "3 299 0"


@pytest.mark.parametrize("kw,words", [({"seq_len": 15}, "even seq_len"), ({"num_kv_pairs": 20}, r"4 \* num_kv_pairs"),
                                      ({"vocab_size": 6}, "distinct keys")])
def test_a_configuration_no_example_fits_is_refused(kw, words):
    with pytest.raises(SeqlabError, match=words):
        make(**{"seq_len": 64, "vocab_size": 64, **kw})


def test_a_transformer_trains_on_mqar_and_reports_answer_accuracy(tmp_path):
    result = run_cli("train", "model=transformer", "task=mqar", "task.vocab_size=64", "task.test_size=50",
                     "model.block_size=64", "trainer.max_steps=3", "trainer.eval_every=3", "trainer.num_samples=2",
                     "trainer.batch_size=8", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (run,) = (tmp_path / "outputs").glob("*/*_transformer_mqar")
    summary = json.loads((run / "summary.json").read_text())
    assert 0.0 <= summary["final_val_acc"] <= 1.0 and "final_val_seq_acc" in summary
    assert "queries:" in (run / "samples.txt").read_text()
    bad = run_cli("train", "model=transformer", "task=mqar", "task.seq_len=63", cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0 and "even seq_len" in bad.stderr


def test_pairs_default_to_zoologys_ratio_of_one_per_16_tokens():
    assert make(seq_len=128, vocab_size=64, test_size=10).summary()["num_kv_pairs"] == 8
    assert make(seq_len=128, num_kv_pairs=3, vocab_size=64, test_size=10).summary()["num_kv_pairs"] == 3
