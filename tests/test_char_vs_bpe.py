"""The char_vs_bpe experiment: one run per model and tokenizer, all on the same FLOP budget."""

from __future__ import annotations

import itertools
import json

import pytest
from conftest import run_cli


def test_each_tokenizer_is_swept_once_at_one_budget(tmp_path):
    from seqlab.config.compose import compose
    from seqlab.reproduce import experiment_names, plan

    assert "char_vs_bpe" in experiment_names()
    runs = plan(["char_vs_bpe"], tmp_path)
    combos = {tuple(r.overrides[1:]) for r in runs}
    assert combos == set(itertools.product(["model=gru_small", "model=transformer"],
                                           ["tokenizer=char", "tokenizer=bpe_512", "tokenizer=bpe_2048"]))
    cfgs = {r.overrides[-1]: compose(r.overrides) for r in runs if "model=gru_small" in r.overrides}
    tasks = {k: cfg.task for k, cfg in cfgs.items()}
    assert tasks["tokenizer=char"].tokenizer == "char"  # no char run per vocab size
    assert (tasks["tokenizer=bpe_512"].tokenizer, tasks["tokenizer=bpe_512"].vocab_size) == ("bpe", 512)
    assert (tasks["tokenizer=bpe_2048"].tokenizer, tasks["tokenizer=bpe_2048"].vocab_size) == ("bpe", 2048)
    assert len({cfg.trainer.flops_budget for cfg in cfgs.values()}) == 1


def test_the_config_prints(tmp_path):
    result = run_cli("train", "--cfg", "+experiment=char_vs_bpe", "tokenizer=bpe_512", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "tokenizer: bpe" in result.stdout and "vocab_size: 512" in result.stdout


@pytest.mark.slow
def test_a_larger_vocabulary_gets_fewer_steps_for_the_same_flops(corpus, tmp_path):
    result = run_cli("train", "-m", "+experiment=char_vs_bpe", "model=gru_small",
                     "tokenizer=char,bpe_512",
                     "trainer.flops_budget=2e9", "task.max_chars=null", "task.val_max_chars=null",
                     "trainer.eval_batches=2", "trainer.num_samples=0", cwd=tmp_path,
                     env={"SEQLAB_TINYSTORIES": str(corpus), "SEQLAB_OUTPUTS": str(tmp_path / "out"),
                          "SEQLAB_CACHE": str(tmp_path / "cache")})  # not the session's: others test misses
    assert result.returncode == 0, result.stderr
    summaries = {p.parent.name: json.loads(p.read_text()) for p in (tmp_path / "out").rglob("summary.json")}
    char, bpe = summaries["0_gru_small_char"], summaries["1_gru_small_bpe_512"]
    assert char["tokenizer"] == "char" and bpe["tokenizer"] == "bpe"
    assert bpe["vocab_size"] > char["vocab_size"] and bpe["steps"] < char["steps"]
    assert bpe["final_val_bpb"] > 0 and char["final_val_bpb"] > 0
    sweep = next((tmp_path / "out").rglob("multirun.yaml")).parent
    compared = run_cli("compare", str(sweep), "--metric", "val_bpb", "--out", str(tmp_path / "cmp"), cwd=tmp_path)
    assert compared.returncode == 0, compared.stderr
    table = (tmp_path / "cmp" / "compare.md").read_text()
    assert "| bpb |" in table and f"{bpe['final_val_bpb']:.3f}" in table  # the metric it sorts by
