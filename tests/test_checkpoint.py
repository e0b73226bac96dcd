"""Checkpoints are safetensors + JSON and load without unpickling anything."""

import json

import pytest
import torch
from omegaconf import OmegaConf

from seqlab.data.tokenizers.char import CharVocab
from seqlab.errors import SeqlabError
from seqlab.models.recurrent.gru import build_gru
from seqlab.runs.checkpoint import FORMAT_VERSION, load_checkpoint, save_checkpoint

MODEL = dict(name="gru", embed_size=8, hidden_size=16, num_layers=2, dropout=0.0, bias=True, impl="fused")


def save_tiny(folder, step=5, keep_last=1, best=True):
    vocab = CharVocab.from_text("hello world")
    torch.manual_seed(step)
    model = build_gru(OmegaConf.create(MODEL), len(vocab))
    meta = {"step": step, "config": {"model": MODEL}, "vocab": vocab.to_json(), "metrics": {}}
    save_checkpoint(folder / "checkpoint", model, meta, ("last", "best") if best else ("last",), keep_last)
    (folder / "config.yaml").write_text("model: {}\n")
    return model


def test_round_trip(tmp_path):
    model = save_tiny(tmp_path)
    ckpt = load_checkpoint(tmp_path)
    assert ckpt.meta["step"] == 5 and ckpt.meta["format_version"] == FORMAT_VERSION
    for (n1, p1), (n2, p2) in zip(model.state_dict().items(), ckpt.model.state_dict().items()):
        assert n1 == n2 and torch.equal(p1, p2)


def test_best_pinned_while_last_moves(tmp_path):
    save_tiny(tmp_path, step=5, best=True)
    save_tiny(tmp_path, step=10, best=False)
    assert load_checkpoint(tmp_path, "last").meta["step"] == 10
    assert load_checkpoint(tmp_path, "best").meta["step"] == 5
    save_tiny(tmp_path, step=15, best=False)  # keep_last=1 drops step 10, never best
    steps = sorted(p.name for p in (tmp_path / "checkpoint").glob("step_*"))
    assert steps == ["step_000005", "step_000015"]


def test_pickle_file_is_refused_and_never_run(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    bad = tmp_path / "model.pt"
    torch.save({"x": Evil()}, bad)
    with pytest.raises(SeqlabError, match="not a seqlab checkpoint"):
        load_checkpoint(bad)
    assert not marker.exists()


def test_not_a_run_folder(tmp_path):
    with pytest.raises(SeqlabError, match="not a seqlab run folder"):
        load_checkpoint(tmp_path)
    with pytest.raises(SeqlabError, match="no such"):
        load_checkpoint(tmp_path / "missing")


def test_newer_format_version_refused(tmp_path):
    save_tiny(tmp_path)
    meta_path = next((tmp_path / "checkpoint").glob("step_*")) / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["format_version"] = FORMAT_VERSION + 1
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(SeqlabError, match="format version"):
        load_checkpoint(tmp_path)


def test_truncated_weights_refused(tmp_path):
    save_tiny(tmp_path)
    weights = next((tmp_path / "checkpoint").glob("step_*")) / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(SeqlabError, match="model.safetensors.* is damaged"):
        load_checkpoint(tmp_path)
