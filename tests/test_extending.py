"""The worked examples of docs/extending.md: the bigram family and the parity task, each added
through the registry alone, train end to end and are what they claim."""

from __future__ import annotations

import json

import torch
from conftest import TINY_TRAINER, run_cli
from omegaconf import OmegaConf

from seqlab.registry import build_model, build_task, pair
from seqlab.tasks.config import ParityConfig


def test_bigram_is_a_table_of_next_token_logits():
    model = build_model(OmegaConf.create({"name": "bigram"}), 7)
    idx = torch.tensor([[1, 2, 1]])
    assert torch.equal(model(idx)[0], torch.zeros(1, 3, 7))  # starts at the uniform guess
    torch.nn.init.normal_(model.logits.weight)
    logits, state = model(idx)
    assert state is None and logits.shape == (1, 3, 7)
    assert torch.equal(logits[0, 0], logits[0, 2])  # the same token, the same prediction: no context


def test_the_bigram_family_is_its_folder_plus_one_line():
    """docs/extending.md's table: the family's three files, its preset, its tests, one name in the
    registry; tests/test_layout.py checks that nothing else in seqlab/ names it."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    assert sorted(p.name for p in (root / "seqlab/models/bigram").glob("*.py")) == ["__init__.py", "config.py", "model.py"]
    table = (root / "docs/extending.md").read_text().split("## Adding a task")[0]
    for path in ("seqlab/models/bigram/model.py", "seqlab/models/bigram/config.py", "seqlab/models/bigram/__init__.py",
                 "seqlab/registry.py", "conf/model/bigram.yaml", "tests/test_extending.py"):
        assert f"`{path}`" in table and (root / path).exists()
    assert "bigram" in (root / "seqlab/registry.py").read_text().split("FAMILIES = (")[1].split(")")[0]


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
