"""The worked examples of docs/extending.md: the bigram family and the parity task, each added
through the registry alone, train end to end and are what they claim."""

from __future__ import annotations

import json

import torch
from conftest import TINY_TRAINER, run_cli
from omegaconf import OmegaConf

from seqlab.config.tasks import ParityConfig
from seqlab.registry import build_model, build_task, pair


def test_bigram_is_a_table_of_next_token_logits():
    model = build_model(OmegaConf.create({"name": "bigram"}), 7)
    idx = torch.tensor([[1, 2, 1]])
    assert torch.equal(model(idx)[0], torch.zeros(1, 3, 7))  # starts at the uniform guess
    torch.nn.init.normal_(model.logits.weight)
    logits, state = model(idx)
    assert state is None and logits.shape == (1, 3, 7)
    assert torch.equal(logits[0, 0], logits[0, 2])  # the same token, the same prediction: no context


def test_parity_labels():
    task = build_task(OmegaConf.structured(ParityConfig(length=9, test_size=50)))
    src, tgt = task.data.test[9]
    ones = (task.symbol_ids[src] == task.vocab.encode("1")[0]).sum(1)
    assert torch.equal(task.symbol_ids[tgt[:, 0]] == task.vocab.encode("1")[0], ones % 2 == 1)
    pair(OmegaConf.create({"name": "gru"}), task)
    assert task.kind == "classify" and task.context_length() == 9


def test_bigram_trains_and_says_it_has_no_flop_model(corpus, tmp_path):
    result = run_cli("train", "model=bigram", f"task.source={corpus}", *TINY_TRAINER, "trainer.lr=0.05", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "no flops.json and no MFU for this run: its family declares no FLOP model" in result.stderr
    run = next((tmp_path / "outputs").glob("*/*_bigram_tinystories"))
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["flops"] is None and not (run / "flops.json").exists()
    assert summary["final_val_loss"] < torch.log(torch.tensor(float(summary["vocab_size"]))).item()
    assert (run / "samples.txt").read_text().strip()


def test_parity_run_reports_its_accuracy(tmp_path):
    result = run_cli("train", "model=gru", "task=parity", "task.length=8", "task.test_size=40",
                     "model.embed_size=8", "model.hidden_size=16", *TINY_TRAINER, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert ", exact " in result.stderr  # the task's headline metric on the last line
    run = next((tmp_path / "outputs").glob("*/*_gru_parity"))
    flops = json.loads((run / "flops.json").read_text())  # a decoder-only family on a classify task
    assert flops["seq_len"] == 8 and flops["peak_flops"] > 0
