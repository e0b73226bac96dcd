"""trainer.init_from: matching tensors load, new and dropped ones are named, vocabularies must match."""

import json
from pathlib import Path

import torch
from omegaconf import OmegaConf

from seqlab.data.tokenizers.char import CharVocab
from seqlab.models.encoder.config import EncoderConfig
from seqlab.models.encoder.model import build_encoder
from seqlab.runs.checkpoint import save_checkpoint
from seqlab.runs.init_from import init_from
from tests.conftest import TINY_TRAINER, run_cli

VOCAB = CharVocab("abcdef ")


def encoder(seed: int, **overrides) -> torch.nn.Module:
    torch.manual_seed(seed)
    fields = dict(n_layer=1, n_head=2, n_embd=16, block_size=8) | overrides
    return build_encoder(OmegaConf.structured(EncoderConfig(**fields)), len(VOCAB))


def saved_run(tmp_path: Path, model: torch.nn.Module) -> Path:
    meta = {"format_version": 1, "step": 1, "vocab": VOCAB.to_json(), "config": {}, "metrics": {}}
    save_checkpoint(tmp_path / "run" / "checkpoint", model, meta, ("last", "best"))
    return tmp_path / "run"


def test_matching_tensors_load_and_the_rest_is_reported(tmp_path, capsys):
    pretrained = encoder(0, num_classes=0, block_size=16)  # longer positions: a shape mismatch
    run = saved_run(tmp_path, pretrained)
    model = encoder(1, num_classes=2)
    report = init_from(model, run, VOCAB)
    assert report["new"] == ["cls_head.bias", "cls_head.weight", "position_embedding.weight"]
    assert report["dropped"] == ["position_embedding.weight"]
    torch.testing.assert_close(model.blocks[0].attn.q.weight, pretrained.blocks[0].attn.q.weight)
    torch.testing.assert_close(model.lm_head.weight, pretrained.token_embedding.weight)  # tied partner
    line = capsys.readouterr().out.strip()
    assert line.count("\n") == 0 and "new: cls_head.bias, cls_head.weight" in line


def test_a_different_vocabulary_is_one_clear_error(corpus, tmp_path):
    small = ["model.n_embd=16", "model.n_head=2", "model.n_layer=1", "model.block_size=20", *TINY_TRAINER]
    first = run_cli("train", "model=transformer", "task=first_token", "task.length=8", "task.test_size=50", *small, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    source = next((tmp_path / "outputs").glob("*/*_transformer_first_token"))
    lm = run_cli("train", "model=transformer", f"task.source={corpus}", f"trainer.init_from={source}", *small,
                 cwd=tmp_path)
    # one error line, the last (a first use of the corpus prints its preparation line before it)
    errors = [line for line in lm.stderr.splitlines() if line.startswith("error:")]
    assert lm.returncode == 2 and len(errors) == 1 and lm.stderr.strip().splitlines()[-1] == errors[0], lm.stderr
    assert "trainer.init_from" in errors[0] and "vocabulary" in errors[0]


def test_fine_tuning_run_records_its_start(corpus, tmp_path):
    small = ["model=encoder", "model.n_embd=16", "model.n_head=2", "model.n_layer=1", f"task.source={corpus}",
             "task.seq_len=16", *TINY_TRAINER]
    pre = run_cli("train", *small, "task=tinystories_mlm", "model.num_classes=0", cwd=tmp_path)
    assert pre.returncode == 0, pre.stderr
    source = next((tmp_path / "outputs").glob("*/*_encoder_tinystories_mlm"))
    fine = run_cli("train", *small, "task=tinystories_swap", "task.train_size=32", "task.test_size=16",
                   f"trainer.init_from={source}", cwd=tmp_path)
    assert fine.returncode == 0, fine.stderr
    assert "new: cls_head.bias, cls_head.weight; dropped: none" in fine.stdout
    run = next((tmp_path / "outputs").glob("*/*_encoder_tinystories_swap"))
    summary = json.loads((run / "summary.json").read_text())
    assert summary["init_from"]["new"] == ["cls_head.bias", "cls_head.weight"]
    assert OmegaConf.load(run / "config.yaml").trainer.init_from == str(source)
