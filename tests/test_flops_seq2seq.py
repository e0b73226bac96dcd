"""FLOP models of the encoder-decoders (and the encoder's table): the counter agrees per
component and in total, the formulas hold, and runs and `seqlab flops` count pairs."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import run_cli
from omegaconf import OmegaConf
from test_flops import check_against_counter

from seqlab.config.compose import compose
from seqlab.config.shape import config_flop_lengths
from seqlab.flops import flops_json, flops_per_token, flops_report
from seqlab.flops.measure import measure_flops, measure_report
from seqlab.models.encoder.config import EncoderConfig
from seqlab.models.seq2seq.config import Seq2SeqRNNConfig, Seq2SeqTransformerConfig
from seqlab.registry import build_model, build_task, pair


def rnn_cfg(**kw):
    return OmegaConf.structured(Seq2SeqRNNConfig(**{"embed_size": 6, "hidden_size": 8, "attn_size": 5, **kw}))


def transformer_cfg(**kw):
    return OmegaConf.structured(Seq2SeqTransformerConfig(**{"n_embd": 16, "n_head": 2, "n_layer": 1,
                                                            "block_size": 32, **kw}))


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])  # nn.LSTM: counted with oneDNN off
@pytest.mark.parametrize("attention", ["none", "bahdanau", "dot"])
@pytest.mark.parametrize("bidirectional,layers", [(False, 1), (True, 2)])
@pytest.mark.parametrize("S,T,B", [(7, 4, 2), (3, 9, 1)])
def test_seq2seq_rnn_matches_counter(cell, attention, bidirectional, layers, S, T, B):
    check_against_counter(rnn_cfg(cell=cell, attention=attention, bidirectional=bidirectional,
                                  num_layers=layers), 11, S, B, T)


def test_lstm_pair_is_measured_although_its_kernel_hides_under_onednn():
    """As configured, oneDNN's nn.LSTM is invisible to the counter; the measured column is not."""
    cfg = rnn_cfg(cell="lstm", bidirectional=True, num_layers=2)
    report = measure_report(flops_report(cfg, 11, 6, 3, target_len=5), cfg)
    rows = {r.key: r for r in report.rows}
    assert rows["encoder"].measured_forward == rows["encoder"].forward > 0
    src, dec = torch.randint(0, 11, (3, 6)), torch.randint(0, 11, (3, 5))
    hidden = measure_flops(build_model(cfg, 11), src, dec)["forward"]
    assert hidden == report.total.forward - rows["encoder"].forward - rows["decoder"].forward


@pytest.mark.parametrize("extra", [
    {},
    {"causal": False, "d_ff": 24, "tie_head": False},
    {"pos_encoding": "learned", "attn_bias": True, "norm": "post", "bias": False, "n_layer": 2},
])
@pytest.mark.parametrize("S,T,B", [(7, 4, 2), (5, 12, 1)])
def test_seq2seq_transformer_matches_counter(extra, S, T, B):
    check_against_counter(transformer_cfg(**extra), 13, S, B, T)


def test_encoder_table_matches_counter_and_counts_every_parameter():
    for extra in ({}, {"num_classes": 3, "tie_head": False, "pos_encoding": "sinusoidal", "attn_bias": True}):
        cfg = OmegaConf.structured(EncoderConfig(**{"n_embd": 16, "n_head": 2, "n_layer": 2, "block_size": 16,
                                                    **extra}))
        check_against_counter(cfg, 13, 10, 2)


@pytest.mark.parametrize("S,T,D,L", [(12, 12, 64, 2), (9, 1, 32, 3)])
def test_seq2seq_transformer_formulas(S, T, D, L):
    """F = 4D: encoder L(24SD² + 4S²D); decoder L(28TD² + 4SD² + 4T²D + 4TSD); backward twice."""
    report = flops_report(transformer_cfg(n_embd=D, n_layer=L, block_size=64), 50, S, target_len=T)
    rows = {r.key: r for r in report.rows}
    enc = sum(rows[k].forward for k in ("enc_proj", "enc_attention", "enc_mlp"))
    dec = sum(rows[k].forward for k in ("dec_proj", "dec_attention", "cross_proj", "cross_attention", "dec_mlp"))
    assert enc == L * (24 * S * D * D + 4 * S * S * D)
    assert dec == L * (28 * T * D * D + 4 * S * D * D + 4 * T * T * D + 4 * T * S * D)
    assert report.total.backward == 2 * report.total.forward
    assert rows["needed"].forward == 2 * L * T * (T + 1) * D and not rows["needed"].in_total
    assert rows["dec_attention"].generate == rows["needed"].forward  # KV cache: step t reads t keys
    assert report.total.seq_forward == 16 * L + 1
    assert report.total.seq_generate == 6 * L + T * (10 * L + 1)


@pytest.mark.parametrize("causal", [True, False])
def test_generating_is_a_pass_per_prefix_without_a_cache(causal):
    """A bidirectional decoder re-reads its prefix: generating T tokens costs the decoder's full
    pass at every length t = 1..T. A causal one caches: each position once, step t reading t keys."""
    cfg = transformer_cfg(causal=causal, d_ff=24)  # D = 16, L = 1
    S, T, D = 5, 6, 16
    gen = {r.key: r.generate for r in flops_report(cfg, 13, S, target_len=T).rows}
    passes = [{r.key: r.forward for r in flops_report(cfg, 13, S, target_len=t).rows} for t in range(1, T + 1)]
    kv_once = 4 * S * D * D  # the cross-attention keys and values of the source: computed once
    if causal:  # each position once (T one-token passes); self-attention reads the causal triangle
        for key in ("dec_proj", "dec_mlp", "cross_attention"):
            assert gen[key] == T * passes[0][key], key
        assert gen["dec_attention"] == 2 * T * (T + 1) * D
        assert gen["cross_proj"] == T * (passes[0]["cross_proj"] - kv_once) + kv_once
    else:  # a full pass over every prefix t = 1..T
        for key in ("dec_proj", "dec_mlp", "cross_attention", "dec_attention"):
            assert gen[key] == sum(p[key] for p in passes), key
        assert gen["cross_proj"] == sum(p["cross_proj"] - kv_once for p in passes) + kv_once


def test_seq2seq_rnn_formulas():
    """Elman cells, E = H = D, no attention: encoder forward 4SLD² ... as the recurrent LM; the
    encoder's backward is short of twice by h_0's gradient, the decoder's is not."""
    S, T, D, L = 10, 6, 8, 2
    cfg = rnn_cfg(cell="rnn", embed_size=D, hidden_size=D, num_layers=L, attention="none")
    rows = {r.key: r for r in flops_report(cfg, 20, S, target_len=T).rows}
    assert rows["encoder"].forward == 4 * S * L * D * D
    assert rows["encoder"].backward == 2 * rows["encoder"].forward - 2 * L * D * D
    assert rows["decoder"].forward == T * (2 * (2 * D * D + D * D) + (L - 1) * 4 * D * D)  # reads [y; c]
    assert rows["decoder"].backward == 2 * rows["decoder"].forward
    assert rows["attend"].forward == 0


def test_pairs_per_token_and_json():
    """Per token means per source and decoder token: times S + T it is the pair's count."""
    cfg = transformer_cfg()
    total = flops_report(cfg, 13, 7, target_len=3).total
    per = flops_per_token(cfg, 13, 7, 3)
    assert per["training"] * 10 == pytest.approx(total.training)
    assert per["target_len"] == 3
    out = flops_json(cfg, 13, 7, 4, target_len=3)
    assert out["tokens_per_step"] == 40 and out["per_step"]["training"] == 4 * total.training
    assert flops_report(cfg, 13, 7).target_len == 7  # default: as long as the source


@pytest.mark.parametrize("task", ["copy", "reverse", "sort", "assoc_recall", "first_token"])
@pytest.mark.parametrize("model", ["seq2seq_rnn", "gru"])
def test_config_lengths_are_what_the_built_task_counts(task, model):
    """`seqlab flops` and reproduce read the lengths from the config; a run reads them from the
    built task: the same numbers (assoc_recall: 2P + 1 source symbols and one answer)."""
    cfg = compose([f"task={task}", f"model={model}", "task.length=3", "task.test_size=4"])
    if task == "first_token" and model == "seq2seq_rnn":
        pytest.skip("an encoder-decoder does not serve classify")
    built = build_task(cfg.task)
    pair(cfg.model, built)
    assert config_flop_lengths(cfg.model, cfg.task) == built.flop_lengths()


def test_cli_counts_pairs_and_refuses_a_target_length_for_one_sequence(tmp_path):
    result = run_cli("flops", "model=seq2seq_rnn", "task=reverse", "task.length=6", "--target-len", "4",
                     "--format", "json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (report,) = json.loads(result.stdout)["reports"]
    assert (report["seq_len"], report["target_len"]) == (6, 4)
    assert report["vocab_size"] == 12  # the task's own: 10 symbols, the separator, the unknown id
    assert report["measured"]["training"] == report["total"]["training"]
    table = run_cli("flops", "model=seq2seq_transformer", "task=reverse", "--no-measure", cwd=tmp_path)
    assert table.returncode == 0 and "S = 12 · T = 12" in table.stdout
    recall = run_cli("flops", "model=seq2seq_rnn", "task=assoc_recall", "--no-measure", "--format", "json",
                     cwd=tmp_path)  # the task's own lengths: P = 4 pairs -> 9 source symbols, 1 answer
    assert [(r["seq_len"], r["target_len"]) for r in json.loads(recall.stdout)["reports"]] == [(9, 1)]
    lent = run_cli("flops", "model=seq2seq_rnn", "--no-measure", cwd=tmp_path)  # tinystories: not its task
    assert lent.returncode == 0 and lent.stderr.strip() == (
        "warning: model 'seq2seq_rnn' cannot serve task 'tinystories' (lm); it serves seq2seq tasks: "
        "assoc_recall, copy, duplicate_string, reverse, sort; its lengths are used as they are (--seq-len sets them)")
    bad = run_cli("flops", "model=gru", "--target-len", "4", cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr.strip() == (
        "error: --target-len is for encoder-decoders; model 'gru' reads one sequence")


def test_training_an_encoder_decoder_writes_flops_and_mfu(tmp_path):
    """assoc_recall with P = 3 pairs: 7 source symbols and a 1-token answer, as the task builds them."""
    result = run_cli("train", "model=seq2seq_rnn", "task=assoc_recall", "task.length=3", "task.test_size=32",
                     "model.embed_size=8", "model.hidden_size=16", "model.attn_size=8", "trainer.max_steps=6",
                     "trainer.eval_every=3", "trainer.log_every=3", "trainer.batch_size=4", "device=cpu",
                     "threads=1", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (run,) = (tmp_path / "outputs").glob("*/*seq2seq_rnn_assoc_recall")
    flops = json.loads((run / "flops.json").read_text())
    assert (flops["report"]["seq_len"], flops["report"]["target_len"]) == (7, 1)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["flops"] == pytest.approx(6 * flops["per_step"]["training"])
    assert summary["mfu"] > 0
