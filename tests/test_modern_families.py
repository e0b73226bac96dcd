"""minGRU, minLSTM and Mamba-2 as families: their FLOP models against FlopCounterMode, and what
every family gets through the CLI (train on TinyStories and on synthetic tasks, sample, eval,
compare, resume, bf16, init_from, flops and MFU, gradients, DDP)."""

from __future__ import annotations

import json
import math
import re

import pytest
import torch
import torch.nn.functional as F
from conftest import TINY_TRAINER, run_cli
from omegaconf import OmegaConf
from test_robustness import assert_same_run, only_run
from torch.utils.flop_counter import FlopCounterMode

from seqlab.analysis.gradients import gradient_norms
from seqlab.flops import flops_report
from seqlab.flops.measure import measure_flops
from seqlab.models.mingru.flops import scan_depth
from seqlab.registry import MODELS, build_model

FAMILIES = ("mingru", "minlstm", "mamba")


def cfg(name: str, **fields):
    return OmegaConf.merge(OmegaConf.structured(MODELS[name].config), fields)


# (family, config fields, V, T, B): 1-2 layers, with and without MLP/conv, lengths below, above
# and not a multiple of the chunk, one token, both scans
SHAPES = [
    ("mingru", dict(n_embd=8, n_layer=2), 11, 7, 2),
    ("minlstm", dict(n_embd=6, n_layer=1, mlp=False, norm="layernorm"), 5, 70, 3),
    ("mingru", dict(n_embd=8, n_layer=2, d_conv=0, scan="sequential"), 11, 9, 2),
    ("mamba", dict(n_embd=8, n_layer=2, d_state=4, headdim=4, chunk_size=4), 11, 7, 2),
    ("mamba", dict(n_embd=8, n_layer=1, d_state=3, headdim=8, chunk_size=16), 11, 9, 2),
    ("mamba", dict(n_embd=8, n_layer=1, d_state=3, headdim=8, chunk_size=4), 11, 1, 2),
    ("mamba", dict(n_embd=8, n_layer=2, d_state=4, headdim=4, scan="sequential"), 11, 5, 2),
]
# row key -> (modules whose counted forward FLOPs it is, modules to subtract)
MODULES = {"conv": (r"\.conv\.conv$", None), "gates": (r"\.cell\.proj$", None), "out_proj": (r"\.out_proj$", None),
           "mlp": (r"\.mlp$", None), "in_proj": (r"\.in_proj$", None), "head": (r"\.head$", None),
           "ssd": (r"\.mixer$", r"\.mixer\.(in_proj|conv|out_proj)$")}


def counted(by_module: dict[str, int], include: str, exclude: str | None) -> int:
    def total(p):
        return 0 if p is None else sum(v for k, v in by_module.items() if re.search(p, k))
    return total(include) - total(exclude)


def generated_flops(model, name: str, idx: torch.Tensor) -> int:
    """The counter on T tokens fed one at a time from a zero state (the report's `generate`)."""
    B = idx.size(0)
    if name == "mamba":  # a zero state: the first token takes the recurrent step too
        state = [(torch.zeros(B, m.nheads, m.headdim, m.d_state), torch.zeros(B, m.conv.kernel - 1, m.conv_dim))
                 for m in (block.mixer for block in model.blocks)]
    else:
        state = None  # one token from no state: the same step (h_0 = 0)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        for t in range(idx.size(1)):
            _, state = model(idx[:, t:t + 1], state)
    return counter.get_total_flops()


@pytest.mark.parametrize("name,fields,V,T,B", SHAPES)
def test_flop_model_equals_the_counter(name, fields, V, T, B):
    """Per component and in total, forward, training and generation; parameters exact. The one
    difference is the counter's: it counts a depthwise conv's weight gradient as a dense conv."""
    c = cfg(name, **fields)
    report = flops_report(c, V, T, B)
    torch.manual_seed(0)
    model = build_model(c, V)
    idx = torch.randint(0, V, (B, T))
    meas = measure_flops(model, idx)
    rows = {r.key: r for r in report.rows}
    for row in report.rows:
        if row.in_total:
            expected = counted(meas["by_module"], *MODULES[row.key]) if row.key in MODULES else 0
            assert row.forward == expected, row
    total = report.total
    assert meas["forward"] == total.forward
    channels = model.blocks[0].mixer.conv_dim if name == "mamba" else c.n_embd
    overcount = (channels - 1) * rows["conv"].forward if "conv" in rows else 0
    assert meas["training"] == total.training + overcount
    assert total.params == sum(p.numel() for p in model.parameters())
    assert generated_flops(model.eval(), name, idx) == total.generate


def test_the_recurrence_adds_no_sequential_matmuls():
    """A GRU's critical path grows with T in training; a scan's is the layer stack, whatever T."""
    short, long = (flops_report(cfg("mingru"), 86, T).total for T in (10, 1000))
    assert short.seq_training == long.seq_training == 2 * (5 * 2 + 1)  # conv, gates, out, mlp x2; +1 head
    assert long.seq_generate == 1000 * (5 * 2 + 1)
    mamba = [flops_report(cfg("mamba"), 86, T).total.seq_training for T in (10, 1000)]
    assert mamba[0] == mamba[1] == 2 * (6 * 2 + 1)  # in_proj, conv, SSD 3 deep, out_proj; +1 head
    gru = [flops_report(cfg("gru"), 86, T).total.seq_training for T in (10, 1000)]
    assert gru[1] > 50 * gru[0]
    scan = next(r for r in flops_report(cfg("mingru"), 86, 1000).rows if r.key == "scan")
    assert not scan.in_total and scan.seq_forward == 2 * scan_depth(1000, True) == 2 * (64 + 16)


def test_presets_are_about_the_gru_preset_size():
    from seqlab.config.compose import compose

    gru = flops_report(compose(["model=gru"]).model, 86, 20).total.params
    for name in FAMILIES:
        params = flops_report(compose([f"model={name}"]).model, 86, 20).total.params
        assert 0.9 * gru < params < 1.05 * gru, (name, params)


@pytest.mark.parametrize("name", FAMILIES)
def test_trailing_padding_never_reaches_real_positions(name):
    torch.manual_seed(0)
    small = dict(n_embd=8, n_layer=2, d_state=4, headdim=4, chunk_size=4) if name == "mamba" else dict(n_embd=8)
    model = build_model(cfg(name, **small), 12).eval()
    rows = [torch.randint(1, 12, (n,)) for n in (5, 9)]
    padded = torch.zeros(2, 12, dtype=torch.long)
    for i, row in enumerate(rows):
        padded[i, :len(row)] = row
    out = model(padded)[0]
    for i, row in enumerate(rows):
        torch.testing.assert_close(out[i, :len(row)], model(row[None])[0][0], atol=1e-5, rtol=0)


def test_gradient_flow_through_a_scan_is_the_product_of_its_decays():
    """The trace's ||dL_T/dh_t|| equals ||(a_{t+1} ... a_T) dL_T/dh_T|| computed on the parallel
    model: minGRU's step Jacobian is diag(a_t), no matrix."""
    torch.manual_seed(0)
    model = build_model(cfg("mingru", n_embd=8, n_layer=1, mlp=False, d_conv=0), 11).double().eval()
    tokens = torch.randint(0, 11, (3, 13))
    norms = gradient_norms(model, tokens, MODELS["mingru"].trace)
    block = model.blocks[0]
    u = block.norm_1(model.wte(tokens[:, :-1]))
    a, _ = block.cell.coefficients(block.cell.pre(u))  # (B, T, H)
    h, _ = block.cell(u)
    h_T = h[:, -1].detach().requires_grad_()
    x = model.wte(tokens[:, :-1])[:, -1] + block.out_proj(h_T)
    loss = F.cross_entropy(model.head(model.norm_f(x)), tokens[:, -1], reduction="sum")
    g = torch.autograd.grad(loss, h_T)[0]  # (B, H)
    suffix = torch.cat([a[:, 1:].flip(1).cumprod(1).flip(1), torch.ones_like(a[:, :1])], dim=1)  # prod a_{t+1..T}
    expected = (suffix * g[:, None]).norm(dim=-1).mean(0)
    torch.testing.assert_close(torch.tensor(norms, dtype=torch.double), expected.detach())


# ---- through the CLI ----------------------------------------------------------------------

SMALL = {"mingru": ["model.n_embd=16", "model.n_layer=1"],
         "minlstm": ["model.n_embd=16", "model.n_layer=1", "model.mlp=false"],
         "mamba": ["model.n_embd=16", "model.n_layer=1", "model.headdim=8", "model.d_state=4", "model.chunk_size=8"]}


def train(name: str, *args: str, cwd) -> None:
    result = run_cli("train", f"model={name}", *SMALL[name], *TINY_TRAINER, *args, cwd=cwd)
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def lm_runs(corpus, tmp_path_factory) -> dict:
    """One tiny TinyStories run of each family."""
    work = tmp_path_factory.mktemp("modern")
    for name in FAMILIES:
        train(name, f"task.source={corpus}", cwd=work)
    return {name: next((work / "outputs").glob(f"*/*_{name}_tinystories")) for name in FAMILIES}


def test_tinystories_runs_sample_eval_compare_and_report_mfu(lm_runs, tmp_path):
    for name, run in lm_runs.items():
        summary = json.loads((run / "summary.json").read_text())
        assert summary["status"] == "completed" and summary["final_val_loss"] < math.log(summary["vocab_size"])
        assert summary["mfu"] > 0 and summary["flops"] > 0, name
        flops = json.loads((run / "flops.json").read_text())
        assert flops["report"]["model"] == name and flops["per_step"]["training"] > 0
        sample = run_cli("sample", str(run), "--max-new-tokens", "20", cwd=tmp_path)
        assert sample.returncode == 0 and sample.stdout.strip(), sample.stderr
        ev = run_cli("eval", str(run), "--format", "json", cwd=tmp_path)
        assert ev.returncode == 0, ev.stderr
        assert abs(json.loads(ev.stdout)["loss"] - summary["final_val_loss"]) < 1e-5
    cmp = run_cli("compare", *map(str, lm_runs.values()), "--out", str(tmp_path / "cmp"), cwd=tmp_path,
                  env={"COLUMNS": "250"})
    assert cmp.returncode == 0, cmp.stderr
    assert all(name in cmp.stdout for name in FAMILIES) and (tmp_path / "cmp" / "compare.csv").exists()


@pytest.mark.parametrize("name,task", [("mingru", "first_token"), ("minlstm", "copy"), ("mamba", "copy")])
def test_synthetic_tasks(name, task, tmp_path):
    train(name, f"task={task}", "task.length=10", "task.test_size=40", cwd=tmp_path)
    summary = json.loads((only_run(tmp_path) / "summary.json").read_text())
    assert summary["status"] == "completed" and 0 <= summary["final_val_seq_acc"] <= 1


@pytest.mark.parametrize("name", ["mingru", "mamba"])
def test_bf16_trains(name, corpus, tmp_path):
    train(name, f"task.source={corpus}", "trainer.precision=bf16", "trainer.max_steps=10", cwd=tmp_path)
    summary = json.loads((only_run(tmp_path) / "summary.json").read_text())
    assert summary["status"] == "completed" and math.isfinite(summary["final_val_loss"])


def test_resume_is_bit_exact(corpus, tmp_path):
    run = ["trainer.max_steps=40", "trainer.eval_every=20", "model.dropout=0.1", f"task.source={corpus}"]
    (tmp_path / "straight").mkdir()
    (tmp_path / "halves").mkdir()
    train("mamba", *run, cwd=tmp_path / "straight")
    train("mamba", *run, "trainer.max_steps=20", cwd=tmp_path / "halves")
    halves = only_run(tmp_path / "halves")
    again = run_cli("resume", str(halves), "trainer.max_steps=40", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert_same_run(halves, only_run(tmp_path / "straight"))


def test_init_from_a_run_of_the_same_family(lm_runs, corpus, tmp_path):
    source = lm_runs["minlstm"]
    train("minlstm", f"task.source={corpus}", f"trainer.init_from={source}", "trainer.max_steps=5", cwd=tmp_path)
    summary = json.loads((only_run(tmp_path) / "summary.json").read_text())
    assert summary["init_from"]["new"] == [] and summary["init_from"]["dropped"] == []


def test_flops_command_measures_what_it_counts(tmp_path):
    result = run_cli("flops", "model=mamba", *SMALL["mamba"], "--seq-len", "11", "--format", "json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (report,) = json.loads(result.stdout)["reports"]
    assert report["measured"]["forward"] == report["total"]["forward"]
    assert any("ignores groups" in note for note in report["notes"])


def test_gradients_command_follows_the_scans_beside_the_gru(tmp_path):
    out = tmp_path / "flow.png"
    result = run_cli("gradients", "model=gru,mingru,minlstm", "--seq-len", "12", "--batch-size", "2",
                     "--out", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    flows = json.loads(out.with_suffix(".json").read_text())["models"]
    assert [(f["label"], f["layers"]) for f in flows] == [("gru", 1), ("mingru", 2), ("minlstm", 2)]
    assert all(len(f["norms"]) == 12 and all(v > 0 for v in f["norms"]) for f in flows)
    mamba = run_cli("gradients", "model=mamba", cwd=tmp_path)
    assert mamba.returncode == 2 and "needs a recurrent model" in mamba.stderr


@pytest.mark.slow
def test_two_ranks_train_mingru(corpus, tmp_path):
    train("mingru", f"task.source={corpus}", "trainer.devices=2", "trainer.dist_timeout_s=30", cwd=tmp_path)
    summary = json.loads((only_run(tmp_path) / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["world_size"] == 2 and summary["steps"] == 30
