"""Length generalisation (Delétang et al. 2023): the tasks even_pairs, cycle_navigation and
duplicate_string are right by brute force, seeded, held out and drawn at the lengths asked for;
a run reports its accuracy per length and over the unseen lengths; the experiment's transformers
hold every length it evaluates; what a user can get wrong is one line."""

from __future__ import annotations

import itertools
import json

import pytest
import torch
from conftest import run_cli
from omegaconf import OmegaConf

from seqlab.errors import SeqlabError
from seqlab.registry import build_task, pair
from seqlab.tasks.config import CycleNavigationConfig, DuplicateStringConfig, EvenPairsConfig
from seqlab.tasks.synthetic_data import (
    SYNTHETIC,
    cycle_navigation,
    duplicate_string,
    even_pairs,
    row_keys,
)

CONFIGS = {"even_pairs": EvenPairsConfig, "cycle_navigation": CycleNavigationConfig,
           "duplicate_string": DuplicateStringConfig}


def make(name: str, **kw):
    return build_task(OmegaConf.structured(CONFIGS[name](**kw)))


def brute_even_pairs(bits: list[int]) -> int:
    """1 when the substrings 01 and 10 occur an odd number of times (the paper's definition)."""
    text = "".join(map(str, bits))
    count = sum(text[i:i + 2] in ("01", "10") for i in range(len(text) - 1))
    return count % 2


def brute_cycle(moves: list[int], k: int) -> int:
    """Walk the cycle one move at a time: 0 back, 1 stay, 2 on."""
    position = 0
    for m in moves:
        position = (position + {0: -1, 1: 0, 2: 1}[m]) % k
    return position


@pytest.mark.parametrize("length", [1, 2, 3, 5])
def test_even_pairs_labels_match_counting_the_pairs_for_every_source(length):
    src, tgt = even_pairs(400, length, 2, torch.Generator().manual_seed(length))
    assert {tuple(s) for s in src.tolist()} == set(itertools.product([0, 1], repeat=length))  # all 2^T seen
    for s, t in zip(src.tolist(), tgt.tolist()):
        assert t == [brute_even_pairs(s)]
        assert t[0] == int(s[0] != s[-1])  # an even count exactly when the ends agree


@pytest.mark.parametrize("length,k", [(1, 5), (4, 5), (7, 3), (6, 7)])
def test_cycle_navigation_labels_match_walking_the_cycle(length, k):
    src, tgt = cycle_navigation(500, length, k, torch.Generator().manual_seed(k))
    assert int(src.min()) >= 0 and int(src.max()) <= 2  # only the three moves
    assert int(tgt.max()) < k
    for s, t in zip(src.tolist(), tgt.tolist()):
        assert t == [brute_cycle(s, k)]


def test_duplicate_string_targets_are_the_source_twice():
    src, tgt = duplicate_string(200, 6, 3, torch.Generator().manual_seed(0))
    assert tgt.shape == (200, 12)
    for s, t in zip(src.tolist(), tgt.tolist()):
        assert t == s + s
    assert SYNTHETIC["duplicate_string"].target_length(7) == 14


@pytest.mark.parametrize("name", list(CONFIGS))
def test_batches_keep_to_the_trained_lengths_and_test_sets_to_theirs(name):
    task = make(name, length=8, min_length=3, eval_lengths=[11, 14], test_size=40)
    g = torch.Generator().manual_seed(0)
    seen = set()
    for _ in range(60):
        b = task.train_batch(5, g)
        T = b.source.size(1)
        assert b.target.size(1) == (2 * T if name == "duplicate_string" else 1)  # one length per batch
        seen.add(T)
    assert seen == set(range(3, 9))
    for L in (8, 11, 14):
        src, tgt = task.data.test[L]
        assert src.shape == (40, L) and tgt.size(1) == (2 * L if name == "duplicate_string" else 1)
    assert task.summary()["train_lengths"] == [3, 8] and task.unseen_lengths == [11, 14]


@pytest.mark.parametrize("name", list(CONFIGS))
def test_test_sets_come_from_data_seed_and_training_never_draws_one(name):
    a, b = make(name, length=8, test_size=100), make(name, length=8, test_size=100)
    other = make(name, length=8, test_size=100, data_seed=1)
    assert torch.equal(a.data.test[8][0], b.data.test[8][0])
    assert not torch.equal(a.data.test[8][0], other.data.test[8][0])
    # 8 symbols of a tiny alphabet: test sources would turn up in training unless rejected
    small = make(name, length=8, min_length=8, num_symbols=3, test_size=1000)
    g = torch.Generator().manual_seed(0)
    drawn = {key for _ in range(40) for key in row_keys(small.data.train_examples(64, g)[0])}
    assert drawn and not drawn & small.data.test_keys


def test_cycle_navigation_refuses_an_alphabet_without_its_moves_and_typed_sources_beyond_them():
    with pytest.raises(SeqlabError, match="num_symbols of at least 3"):
        make("cycle_navigation", num_symbols=2)
    SYNTHETIC["cycle_navigation"].check_source([0, 1, 2])
    with pytest.raises(SeqlabError, match="moves 0"):
        SYNTHETIC["cycle_navigation"].check_source([0, 4])


def test_a_trained_eval_length_with_too_few_sources_to_hold_out_is_refused():
    with pytest.raises(SeqlabError, match="length 4 has only 16 distinct sources"):
        make("even_pairs", eval_lengths=[4, 60], test_size=100)
    make("even_pairs", min_length=5, eval_lengths=[4, 60], test_size=100)  # never trained at 4: no clash


def test_a_run_reports_accuracy_per_length_and_over_the_unseen_lengths(tmp_path):
    result = run_cli("train", "model=lstm", "task=cycle_navigation", "model.hidden_size=16", "model.embed_size=8",
                     "task.length=6", "task.eval_lengths=[4,6,9,12]", "task.test_size=30", "trainer.max_steps=3",
                     "trainer.eval_every=3", "trainer.batch_size=8", "device=cpu", "threads=1", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (run,) = (tmp_path / "outputs").glob("*/*_lstm_cycle_navigation")
    summary = json.loads((run / "summary.json").read_text())
    by_length = summary["val_acc_by_length"]
    assert list(by_length) == ["4", "6", "9", "12"] and all(0 <= v <= 1 for v in by_length.values())
    assert summary["train_lengths"] == [1, 6] and summary["unseen_lengths"] == [9, 12]
    assert summary["final_val_unseen_acc"] == pytest.approx((by_length["9"] + by_length["12"]) / 2)
    assert summary["final_val_acc"] == pytest.approx(by_length["6"])  # the headline is the longest trained length
    last = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    assert last["val_unseen_acc"] == summary["final_val_unseen_acc"] and last["val_acc@9"] == by_length["9"]


def test_lengths_a_transformer_cannot_hold_are_named_once_and_left_out_of_the_unseen_mean(tmp_path):
    result = run_cli("train", "model=transformer", "task=duplicate_string", "model.n_embd=16", "model.n_head=2",
                     "model.block_size=24", "task.length=6", "task.eval_lengths=[7,10]", "task.test_size=20",
                     "trainer.max_steps=2", "trainer.eval_every=2", "trainer.batch_size=4", "device=cpu",
                     "threads=1", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (line,) = [x for x in result.stderr.splitlines() if "eval_lengths" in x]
    assert line.startswith("warning:") and "[10] need up to 30 positions" in line and "block_size (24)" in line
    (run,) = (tmp_path / "outputs").glob("*/*_transformer_duplicate_string")
    summary = json.loads((run / "summary.json").read_text())
    assert summary["skipped_eval_lengths"] == [10] and list(summary["val_acc_by_length"]) == ["6", "7"]
    assert "final_val_unseen_acc" not in summary  # no mean over a part of the unseen lengths


def test_the_length_curve_averages_only_the_lengths_above_the_trained_maximum():
    from seqlab.analysis.length_curve import unseen_mean

    points = [(20, 1.0), (40, 1.0), (41, 0.5), (80, 0.0)]
    assert unseen_mean(points, 40) == 0.25
    assert unseen_mean(points, 80) is None and unseen_mean(points, None) is None


def test_a_wrong_alphabet_on_the_command_line_is_one_line(tmp_path):
    result = run_cli("train", "model=lstm", "task=cycle_navigation", "task.num_symbols=2", "device=cpu",
                     cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "num_symbols of at least 3" in result.stderr


def test_the_experiment_sweeps_every_family_and_its_transformers_hold_every_evaluated_length():
    from seqlab.config.compose import compose
    from seqlab.config.experiments import experiment_summaries

    assert "length_generalisation" in dict(experiment_summaries())  # `seqlab experiments` lists it
    sweep = compose(["+experiment=length_generalisation"], with_hydra=True).hydra.sweeper.params
    assert sweep.zoology.split(",") == ["rnn", "gru", "lstm", "mingru", "minlstm", "mamba", "transformer", "llama"]
    assert sweep.task.split(",") == ["parity", "even_pairs", "reverse", "duplicate_string"]
    for family, task_name in itertools.product(("transformer", "llama"), sweep.task.split(",")):
        cfg = compose(["+experiment=length_generalisation", f"zoology={family}", f"task={task_name}"])
        assert (cfg.task.name, cfg.task.length, cfg.task.min_length) == (task_name, 40, 1)
        task = build_task(cfg.task)
        pair(cfg.model, task)
        assert task.unseen_lengths and all(task.fits(L) for L in task.data.lengths), (family, task_name)
