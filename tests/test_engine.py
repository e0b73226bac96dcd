"""The engine on its own, imported rather than run through the CLI: the learning-rate schedule,
the train state's round trip, precision, the callbacks' order and their failures."""

from __future__ import annotations

import json
import warnings
from types import SimpleNamespace

import pytest
import torch
from conftest import TINY

from seqlab.config.compose import compose
from seqlab.engine.callbacks import Callback, CallbackList, default_callbacks
from seqlab.engine.optim import lr_at
from seqlab.engine.precision import autocast, check_precision
from seqlab.engine.trainer import Trainer
from seqlab.errors import SeqlabError
from seqlab.models.modes import eval_mode
from seqlab.runs.train_state import TrainState, load_train_state, save_train_state


def schedule(**kw):
    base = dict(lr=1e-3, warmup_steps=10, lr_schedule="cosine", max_steps=110, min_lr_ratio=0.1)
    return SimpleNamespace(**{**base, **kw})


def test_lr_warmup_then_cosine_to_the_floor():
    cfg = schedule()
    assert [lr_at(s, cfg) for s in (0, 4, 9)] == pytest.approx([1e-4, 5e-4, 1e-3])
    assert lr_at(10, cfg) == pytest.approx(1e-3)
    assert lr_at(60, cfg) == pytest.approx(1e-4 + 0.5 * 9e-4)  # half way: the mean of peak and floor
    assert lr_at(110, cfg) == pytest.approx(1e-4) and lr_at(500, cfg) == pytest.approx(1e-4)
    lrs = [lr_at(s, cfg) for s in range(10, 111)]
    assert all(a >= b for a, b in zip(lrs, lrs[1:]))  # monotone after warm-up
    assert lr_at(50, schedule(lr_schedule="constant")) == 1e-3
    with pytest.raises(SeqlabError, match="lr_schedule"):
        lr_at(50, schedule(lr_schedule="linear"))


def test_train_state_round_trip(tmp_path):
    """Optimiser moments, every RNG stream and the counters come back exactly."""
    model = torch.nn.Linear(4, 3)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    model(torch.randn(5, 4)).sum().backward()
    opt.step()
    data_rng = torch.Generator().manual_seed(7)
    state = TrainState(step=12, tokens=960, train_time_s=1.5, wall_s=2.0, best_val_loss=1.2,
                       last_eval={"val_loss": 1.3}, skipped_steps=1, loss_sum=3.25, loss_count=2)
    save_train_state(tmp_path, state, opt, data_rng)
    expected = (torch.rand(3), torch.rand(3, generator=data_rng))
    fresh = torch.optim.Adam(model.parameters(), lr=1e-2)
    rng = torch.Generator()
    assert load_train_state(tmp_path, fresh, rng) == state
    assert torch.equal(torch.rand(3), expected[0]) and torch.equal(torch.rand(3, generator=rng), expected[1])
    for a, b in zip(opt.state.values(), fresh.state.values()):
        assert torch.equal(a["exp_avg"], b["exp_avg"]) and torch.equal(a["exp_avg_sq"], b["exp_avg_sq"])
    # a format-1 checkpoint called the wall time wall_time_s: still read
    meta = json.loads((tmp_path / "train_state.json").read_text())
    meta["state"]["wall_time_s"] = meta["state"].pop("wall_s")
    (tmp_path / "train_state.json").write_text(json.dumps(meta))
    assert load_train_state(tmp_path, fresh, rng).wall_s == 2.0


def test_precision():
    cpu = torch.device("cpu")
    check_precision("fp32", cpu)
    with pytest.raises(SeqlabError, match="trainer.precision must be one of"):
        check_precision("fp8", cpu)
    a = torch.randn(4, 4)
    with autocast("bf16", cpu):
        assert (a @ a).dtype == torch.bfloat16
    with autocast("fp32", cpu):
        assert (a @ a).dtype == torch.float32


def test_eval_mode_restores_the_mode_when_the_block_raises():
    model = torch.nn.Dropout(0.5).train()
    with pytest.raises(RuntimeError), eval_mode(model):
        assert not model.training
        raise RuntimeError("a broken sample")
    assert model.training
    with eval_mode(model.eval()):
        pass
    assert not model.training  # it restores, it does not force train mode


class Recorder(Callback):
    """Logs every hook it sees, with what the other callbacks had done by then."""

    def __init__(self, log: list) -> None:
        self.log = log

    def on_fit_start(self, trainer):
        self.log.append(("fit_start", trainer.state.step))

    def on_step_end(self, trainer, result):
        self.log.append(("step_end", result.step, result.record is not None and "val_loss" in result.record))

    def on_eval(self, trainer, metrics):
        last = (trainer.run.checkpoints / "last.json")
        self.log.append(("eval", trainer.state.step, json.loads(last.read_text())["step"]))

    def on_log(self, trainer, record):
        self.log.append(("log", record["step"]))

    def on_train_end(self, trainer, status):
        self.log.append(("train_end", status))

    def on_summary(self, trainer, summary):
        self.log.append(("summary", summary["status"]))

    def on_fit_end(self, trainer, summary):
        self.log.append(("fit_end", trainer.run.summary.exists()))

    def teardown(self, trainer):
        self.log.append(("teardown",))


def tiny_trainer(corpus, tmp_path, *overrides, callbacks=None):
    cfg = compose([f"task.source={corpus}", *TINY, "trainer.max_steps=10", "trainer.eval_every=5",
                   "trainer.log_every=5", "trainer.eval_batches=1", "trainer.num_samples=1", *overrides], [])
    return Trainer(cfg, tmp_path / "run", callbacks=callbacks)


def test_callback_order(corpus, tmp_path):
    log: list = []
    summary = tiny_trainer(corpus, tmp_path, callbacks=[*default_callbacks(), Recorder(log)]).fit()
    assert summary["status"] == "completed"
    assert log[0] == ("fit_start", 0)
    # the step's record is logged, then on_eval sees the checkpoint of that step already written
    assert log[5:8] == [("step_end", 5, True), ("log", 5), ("eval", 5, 5)]
    assert [e for e in log if e[0] == "log"] == [("log", 5), ("log", 10)]
    assert log[-4:] == [("train_end", "completed"), ("summary", "completed"), ("fit_end", True), ("teardown",)]


class BrokenInEval(Callback):
    """A non-critical callback that fails half way through an eval-mode block."""

    critical = False

    def on_eval(self, trainer, metrics):
        with eval_mode(trainer.model):
            raise RuntimeError("cannot draw")


class TrainModeCheck(Callback):
    def __init__(self) -> None:
        self.modes: list[bool] = []

    def on_step_end(self, trainer, result):
        self.modes.append(trainer.model.training)


def test_a_failing_callback_costs_a_warning_not_the_run(corpus, tmp_path):
    check = TrainModeCheck()
    trainer = tiny_trainer(corpus, tmp_path, "model.dropout=0.1",
                           callbacks=[*default_callbacks(), BrokenInEval(), check])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        summary = trainer.fit()
    assert summary["status"] == "completed" and all(check.modes)  # dropout stayed on in training
    assert any("BrokenInEval.on_eval failed: cannot draw" in str(w.message) for w in caught)
    assert json.loads((trainer.run.checkpoints / "last.json").read_text())["step"] == 10


class Fatal(Callback):
    def on_step_end(self, trainer, result):
        if result.step == 3:
            raise OSError("disk gone")


def test_a_critical_failure_ends_the_run_and_still_closes_every_callback(corpus, tmp_path):
    log: list = []
    trainer = tiny_trainer(corpus, tmp_path, callbacks=[*default_callbacks(), Fatal(), Recorder(log)])
    with pytest.raises(OSError, match="disk gone"):
        trainer.fit()
    assert log[-1] == ("teardown",) and trainer.state.step == 3


def test_rank_zero_only_callbacks_are_left_out_elsewhere():
    names = {type(c).__name__ for c in CallbackList(default_callbacks(), is_main=False).callbacks}
    # what every rank computes (the record, evaluation, the checkpoint its random state goes
    # into) is the Trainer's own loop; the default observers only write, on rank 0
    assert names == set()
    assert {type(c).__name__ for c in CallbackList(default_callbacks()).callbacks} == {
        "SampleWriter", "TaskArtifacts", "LossPlot", "ProgressDisplay"}


class SumTask:
    """A stand-in task: the loss is the sum of the model's outputs on the batch."""

    def loss(self, model, batch):
        return model(batch).sum()


def test_a_deferred_step_skips_a_non_finite_update_without_reading_the_device():
    """The GPU path (fused optimiser, `found_inf`): the decision stays a tensor, and a NaN step
    leaves weights and Adam's step count as they were."""
    from seqlab.engine.step import train_step

    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    opt = torch.optim.Adam(model.parameters(), lr=0.1, fused=True)
    before = [p.detach().clone() for p in model.parameters()]
    _, _, applied = train_step(model, SumTask(), torch.full((2, 3), float("nan")), opt, 1.0, defer=True)
    assert torch.is_tensor(applied) and not applied
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    _, _, applied = train_step(model, SumTask(), torch.ones(2, 3), opt, 1.0, defer=True)
    assert applied and not torch.equal(before[0], model.weight)
    assert int(opt.state[model.weight]["step"]) == 1  # the skipped step was not counted


@pytest.mark.slow
def test_compiled_training_writes_plain_checkpoints(corpus, tmp_path, monkeypatch):
    """trainer.compile wraps only the training forward: checkpoints hold the plain module's names."""
    from safetensors.torch import load_file

    compile_ = torch.compile  # dynamo's wrapper and tracing, without inductor's seconds of code generation
    monkeypatch.setattr(torch, "compile", lambda model, **kwargs: compile_(model, **{"backend": "eager", **kwargs}))

    trainer = tiny_trainer(corpus, tmp_path, "trainer.compile=true", "trainer.num_samples=0")
    assert trainer.fit()["status"] == "completed"
    weights = load_file(str(next((trainer.run.checkpoints).glob("step_*")) / "model.safetensors"))
    assert set(weights) == set(trainer.model.state_dict())
    assert not any(k.startswith(("_orig_mod.", "module.")) for k in weights)


def test_a_flops_budget_sets_the_number_of_steps(corpus, tmp_path):
    from seqlab.flops import flops_json

    probe = tiny_trainer(corpus, tmp_path / "probe")
    per_step = flops_json(probe.cfg.model, len(probe.task.vocab), probe.task.context_length(),
                          probe.tcfg.batch_size)["per_step"]["training"]
    trainer = tiny_trainer(corpus, tmp_path, f"trainer.flops_budget={6.5 * per_step}", "trainer.num_samples=0")
    assert trainer.tcfg.max_steps == 7  # ceil(6.5)
    summary = trainer.fit()
    assert summary["steps"] == 7 and summary["flops"] >= 6.5 * per_step
    cfg = compose([f"task.source={corpus}", "model=bigram", "trainer.flops_budget=1e9", "device=cpu"], [])
    with pytest.raises(SeqlabError, match="flops_budget needs a FLOP model"):
        Trainer(cfg, tmp_path / "bigram")
