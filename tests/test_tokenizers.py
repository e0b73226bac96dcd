"""Byte and BPE tokenizers: round trips, their JSON, bits per byte; runs sample and evaluate
with the tokenizer their own folder holds."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest
import torch
from conftest import TINY, run_cli

from seqlab.data.tokenizers.char import CharVocab
from seqlab.data.tokenizers.subword import (
    ByteTokenizer,
    newline_pieces,
    tokenizer_from_json,
    train_bpe,
)
from seqlab.tasks.char_lm import LN2, CharLMTask

TEXT = "Once upon a time, Zoë saw “a star” 🙂.\n\nThe end.\nÉtoile  ends  here"


@pytest.fixture(scope="module")
def bpe():
    return train_bpe([TEXT * 20, "Lily and Tom played in the park.\n" * 50], vocab_size=300)


def test_byte_round_trip_and_no_unknowns():
    tok = ByteTokenizer()
    ids = tok.encode(TEXT)
    assert len(tok) == 256 and ids.dtype == np.uint8 and len(ids) == len(TEXT.encode())
    assert tok.decode(ids) == TEXT and tok.unknown(TEXT) == [] and tok.banned_ids == []
    assert tok.token_chars[ids].sum() == len(TEXT) and tok.token_bytes[ids].sum() == len(TEXT.encode())
    assert tok.decode(np.array([0xF0, 0x9F])) == "\ufffd"


def test_bpe_round_trip_compresses_and_counts_bytes(bpe):
    ids = bpe.encode(TEXT)
    assert bpe.decode(ids) == TEXT and len(ids) < len(TEXT.encode())
    assert len(bpe) == 300 and ids.dtype == np.uint16
    assert bpe.token_bytes[ids].sum() == len(TEXT.encode())
    assert bpe.token_chars[ids].sum() == len(TEXT)
    unseen = "Ωmega ñ 日本語"  # byte level: nothing is unknown
    assert bpe.decode(bpe.encode(unseen)) == unseen


def test_bpe_encoding_in_newline_chunks_equals_encoding_whole(bpe):
    pieces = newline_pieces(TEXT)
    assert "".join(pieces) == TEXT and all(p.endswith("\n") for p in pieces[:-1])
    chunked = np.concatenate([bpe.encode("".join(pieces[:2])), bpe.encode("".join(pieces[2:]))])
    assert np.array_equal(chunked, bpe.encode(TEXT))


@pytest.mark.parametrize("make", [ByteTokenizer, lambda: CharVocab.from_text(TEXT), "bpe"])
def test_json_round_trip_through_the_checkpoint_entry_point(make, bpe):
    tok = bpe if make == "bpe" else make()
    again = CharVocab.from_json(json.loads(json.dumps(tok.to_json())))  # what checkpoints call
    assert again.kind == tok.kind and np.array_equal(again.encode(TEXT), tok.encode(TEXT))
    assert tokenizer_from_json(tok.to_json()).decode(tok.encode(TEXT)) == again.decode(again.encode(TEXT))


class Uniform(torch.nn.Module):
    """Fixed logits: a known, nonzero loss on every token."""

    def __init__(self, vocab_size: int) -> None:
        super().__init__()
        self.logits = torch.nn.Parameter(torch.linspace(0, 1, vocab_size))

    def forward(self, x):
        return self.logits.expand(*x.shape, -1), None


def test_val_bpb_of_a_char_run_is_bpc_times_chars_over_bytes():
    vocab = CharVocab.from_text(TEXT)
    data = vocab.encode(TEXT * 6)
    task = CharLMTask(data, data, vocab, seq_len=8)
    metrics = task.evaluate(Uniform(len(vocab)), batch_size=4, num_batches=3, device=torch.device("cpu"))
    text = "".join(vocab.decode(b.targets.flatten()) for b in task.eval_batches(4, 3))
    assert metrics["val_bpb"] == pytest.approx(metrics["val_bpc"] * len(text) / len(text.encode()), rel=1e-12)
    assert metrics["val_bpc"] == pytest.approx(metrics["val_loss"] / LN2, rel=1e-12)  # char: one per token


@pytest.mark.slow
@pytest.mark.parametrize("tokenizer", ["byte", "bpe"])
def test_run_folder_alone_samples_and_evaluates(tokenizer, corpus, tmp_path):
    cache = tmp_path / "cache"
    env = {"SEQLAB_CACHE": str(cache)}
    result = run_cli("train", f"task.source={corpus}", f"task.tokenizer={tokenizer}", "task.vocab_size=300",
                     *TINY, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    run = next((tmp_path / "outputs").glob("*/*_gru_tinystories"))
    summary = json.loads((run / "summary.json").read_text())
    assert summary["tokenizer"] == tokenizer and math.isfinite(summary["final_val_bpb"])
    shutil.rmtree(cache)  # from here on, only the run folder knows the tokenizer
    sample = run_cli("sample", str(run), "--prompt", "Once upon", "--max-new-tokens", "20", "--seed", "1",
                     cwd=tmp_path, env=env)
    assert sample.returncode == 0, sample.stderr
    assert "Once upon" in sample.stdout
    scored = run_cli("eval", str(run), "--format", "json", cwd=tmp_path, env=env)
    assert scored.returncode == 0, scored.stderr
    data = json.loads(scored.stdout)
    assert data["loss"] == pytest.approx(summary["final_val_loss"], abs=1e-6)
    assert data["bpb"] == pytest.approx(summary["final_val_bpb"], abs=1e-6)
    assert not cache.exists()
