"""What a new user trips over in the first hour: each behaviour the fix promises."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import pytest
from conftest import TINY, run_cli

from seqlab.config.advice import config_warnings
from seqlab.data import hub
from seqlab.data.text_files import text_file
from seqlab.errors import SeqlabError
from seqlab.runs.reader import require_run
from seqlab.sample_command import trained_source_lengths

REPO = Path(__file__).resolve().parents[1]


# --- sample: sources of untrained lengths, empty prompts, headers with their samples -----------

def test_trained_source_lengths_come_from_the_task_generator():
    copy = {"task": {"name": "copy", "length": 12, "num_symbols": 20, "eval_lengths": [12, 24]}}
    assert trained_source_lengths(copy) == {12, 24}
    recall = {"task": {"name": "assoc_recall", "length": 4, "num_symbols": 16}}
    assert trained_source_lengths(recall) == {9}  # k1 v1 ... k4 v4 q
    assert trained_source_lengths({"task": {"name": "tinystories", "seq_len": 20}}) == set()


@pytest.fixture(scope="module")
def copy_run(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("copy")
    result = run_cli("train", "model=transformer", "task=copy", "model.n_layer=1", "model.n_embd=32",
                     "model.block_size=16", "task.length=6", "task.test_size=64", "trainer.max_steps=4",
                     "trainer.eval_every=4", "trainer.batch_size=8", "device=cpu", "threads=1", cwd=work)
    assert result.returncode == 0, result.stderr
    (run,) = (work / "outputs").glob("*/*_transformer_copy")
    return run


@pytest.mark.slow
def test_a_source_of_an_untrained_length_gets_a_warning(copy_run, tmp_path):
    seen = run_cli("sample", str(copy_run), "--source", "1 2 3 4 5 6", cwd=tmp_path)
    assert seen.returncode == 0 and "warning" not in seen.stderr
    unseen = run_cli("sample", str(copy_run), "--source", "1 2 3", cwd=tmp_path)
    assert unseen.returncode == 0 and unseen.stdout.strip()
    (line,) = unseen.stderr.strip().splitlines()
    assert line.startswith("warning:") and "6 symbols" in line and "3" in line


@pytest.mark.slow
def test_samples_keep_their_headers_on_stdout_and_an_empty_prompt_is_honoured(trained_run, tmp_path):
    both = run_cli("sample", str(trained_run), "-s", "2", "-n", "10", "--seed", "1", cwd=tmp_path)
    lines = both.stdout.splitlines()
    assert both.returncode == 0 and lines[0] == "--- sample 1 ---" and "--- sample 2 ---" in lines
    empty = run_cli("sample", str(trained_run), "--prompt", "", "-n", "10", "--seed", "1", cwd=tmp_path)
    assert empty.returncode == 0 and "empty --prompt" in empty.stderr
    assert not empty.stdout.startswith("Once upon a time")


@pytest.mark.slow
def test_a_sweep_folder_lists_its_runs(trained_run, tmp_path):
    date_folder = trained_run.parent
    result = run_cli("sample", str(date_folder), cwd=tmp_path)
    (line,) = result.stderr.strip().splitlines()
    assert result.returncode == 2 and "holds 1 run(s)" in line and str(trained_run) in line


def test_require_run_passes_runs_and_names_the_runs_of_a_folder(tmp_path):
    run = tmp_path / "sweep" / "0_gru_copy"
    run.mkdir(parents=True)
    (run / "config.yaml").write_text("model: {}\n")
    require_run(run)  # a run: nothing to say
    with pytest.raises(SeqlabError, match=r"holds 1 run\(s\); name one: .*0_gru_copy"):
        require_run(tmp_path / "sweep")


# --- a folder or a file where either makes sense ------------------------------------------------

def test_text_file_takes_a_file_or_a_folder_and_says_what_it_wanted(corpus, tmp_path):
    assert text_file(corpus / "train.jsonl", "--text") == corpus / "train.jsonl"
    assert text_file(corpus, "--text") == corpus / "validation.jsonl"
    (tmp_path / "a.txt").write_text("x")
    (tmp_path / "b.txt").write_text("y")
    with pytest.raises(SeqlabError, match="expected a text file .* or a folder with validation.jsonl"):
        text_file(tmp_path, "--text")
    with pytest.raises(SeqlabError, match="no such file or folder"):
        text_file(tmp_path / "missing", "--text")


@pytest.mark.slow
def test_eval_scores_a_split_file_like_its_folder(trained_run, corpus, tmp_path):
    scores = []
    for source in (corpus, corpus / "validation.jsonl"):
        result = run_cli("eval", str(trained_run), "--source", str(source), "--batches", "2", "--format", "json",
                         cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        scores.append(json.loads(result.stdout)["loss"])
    assert scores[0] == scores[1]


# --- Hydra config: run-start warning, train.log ------------------------------------------------

def test_transformer_shorter_windows_than_its_block_warn():
    from omegaconf import OmegaConf

    def cfg(model: dict, task: dict):
        return OmegaConf.create({"model": {"name": "transformer", **model}, "task": {"name": "tinystories", **task}})

    (line,) = config_warnings(cfg({"block_size": 100}, {"seq_len": 20}))
    assert "task.seq_len=20" in line and "block_size=100" in line and "task.seq_len=100" in line
    assert config_warnings(cfg({"block_size": 100}, {"seq_len": 100})) == []
    assert config_warnings(OmegaConf.create({"model": {"name": "gru", "hidden_size": 8},
                                             "task": {"name": "tinystories", "seq_len": 20}})) == []
    # an encoder on masked characters reads whole windows: no language-model warning
    assert config_warnings(OmegaConf.create({"model": {"name": "encoder", "block_size": 128},
                                             "task": {"name": "tinystories_mlm", "seq_len": 16}})) == []


@pytest.mark.slow
def test_a_run_warns_at_start_and_logs_into_train_log(corpus, tmp_path):
    result = run_cli("train", f"task.source={corpus}", "model=transformer", "model.n_embd=16", "model.n_head=2",
                     *TINY[:-2], "trainer.max_steps=2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "warning: task.seq_len=20 is shorter than model.block_size=100" in result.stderr
    (run,) = (tmp_path / "outputs").glob("*/*_transformer_tinystories")
    log = (run / "train.log").read_text()
    assert "model=transformer" in log and f"run folder: {run.resolve()}" in log and "block_size=100" in log


# --- offline: fail fast ------------------------------------------------------------------------

def test_an_unreachable_hub_switches_to_offline_at_once(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "https://hub.invalid")  # .invalid never resolves (RFC 2606)
    start = time.perf_counter()
    assert hub.offline_unless_reachable() is True
    assert time.perf_counter() - start < 3
    assert hub.os.environ["HF_HUB_OFFLINE"] == "1" and hub.os.environ["HF_DATASETS_OFFLINE"] == "1"


@pytest.mark.slow
def test_the_hub_default_fails_offline_in_seconds(tmp_path):
    env = {"HF_HUB_OFFLINE": "", "HF_DATASETS_OFFLINE": "", "HF_ENDPOINT": "https://hub.invalid",
           "SEQLAB_CACHE": str(tmp_path / "cache")}
    start = time.perf_counter()
    result = run_cli("train", "trainer.max_steps=1", cwd=tmp_path, env=env)
    elapsed = time.perf_counter() - start
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert "task.source" in line and "SEQLAB_TINYSTORIES" in line
    # Offline mode was switched on (no retries): on a quiet machine this whole command takes
    # ~2.6 s against ~27 s of retries before; the bound is loose for a loaded test machine.
    assert "Offline" in line and elapsed < 60


# --- make and the CLI surface ------------------------------------------------------------------

def test_make_train_forwards_overrides_and_keeps_args(tmp_path):
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / ".installed").touch()
    out = subprocess.run(["make", "-n", "-C", str(REPO), f"VENV={venv}", "-o", f"{venv}/.installed",
                          "-o", "data-env", "train", "model=lstm", "trainer.max_steps=500",
                          "ARGS=seed=3 device=cpu", "TORCH_SPEC=torch"],
                         capture_output=True, text=True, check=True).stdout
    line = next(ln for ln in out.splitlines() if "seqlab train" in ln)
    assert "model=lstm" in line and "trainer.max_steps=500" in line and line.endswith("seed=3 device=cpu")
    assert "TORCH_SPEC" not in line


def test_make_records_the_data_folder_in_the_activate_script(tmp_path):
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "activate").write_text("# activate\n")
    (venv / ".installed").touch()
    data = tmp_path / "data"
    data.mkdir()
    for _ in range(2):  # running it again replaces the line, never adds a second
        subprocess.run(["make", "-s", "-C", str(REPO), f"VENV={venv}", "-o", f"{venv}/.installed", "data-env",
                        f"SEQLAB_TINYSTORIES={data}"], check=True, capture_output=True)
    text = (venv / "bin" / "activate").read_text()
    assert text.count("SEQLAB_TINYSTORIES") == 1
    got = subprocess.run(["bash", "-c", f"source {venv}/bin/activate; echo $SEQLAB_TINYSTORIES"],
                         capture_output=True, text=True).stdout.strip()
    assert got == str(data)


def test_version_experiments_and_flags_without_a_type(tmp_path):
    from seqlab import __version__

    assert run_cli("--version", cwd=tmp_path).stdout.strip() == f"seqlab {__version__}"
    listed = run_cli("experiments", cwd=tmp_path).stdout.splitlines()
    names = {ln.split()[0] for ln in listed}
    assert {p.stem for p in (REPO / "conf" / "experiment").glob("*.yaml")} == names
    assert all(len(ln.split(None, 1)) == 2 for ln in listed)  # a summary on every line
    helped = run_cli("gradients", "--help", cwd=tmp_path, env={"COLUMNS": "120"}).stdout
    flag = next(ln for ln in helped.splitlines() if "--with-init" in ln)
    assert "<bool>" not in flag and "<int>" in helped


# --- output that is no terminal; paths at 80 columns; start lines; early stop --------------------

@pytest.fixture(scope="module")
def logged_run(corpus, tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """`seqlab train ... > log 2>&1` at 80 columns, into a folder with a long path, with TensorBoard."""
    work = tmp_path_factory.mktemp("logged")
    folder = work / ("a-folder-name-long-enough-to-wrap-" * 2) / "outputs" / "run"
    result = run_cli("train", f"task.source={corpus}", *TINY, "logger=[tensorboard]", f"hydra.run.dir={folder}",
                     cwd=work, env={"COLUMNS": "80"})
    assert result.returncode == 0, result.stderr
    return folder, result


@pytest.mark.slow
def test_output_to_a_file_gets_a_line_per_log_step_and_train_log_keeps_them(logged_run):
    folder, result = logged_run
    steps = [line for line in result.stderr.splitlines() if line.startswith("step ")]
    assert [line.split(" |")[0] for line in steps] == [f"step {s}/30" for s in range(5, 31, 5)]
    assert re.fullmatch(r"step 15/30 \| loss \d\.\d{4} \| val \d\.\d{4} \| [\d,]+ tok/s \| MFU [\d.]+% \| eta \d+:\d\d",
                        steps[2]), steps[2]
    log = (folder / "train.log").read_text()
    assert all(line in log for line in steps) and "completed: 30 steps" in log
    assert "━" not in result.stderr  # no live bar drawn into a file


@pytest.mark.slow
def test_paths_and_commands_are_never_wrapped_at_80_columns(logged_run):
    folder, result = logged_run
    lines = result.stderr.splitlines()
    assert any(line.startswith("gru on tinystories:") and line.endswith(f"run folder {folder}") for line in lines)
    assert any(line.startswith("completed: 30 steps") and line.endswith(f"-> {folder}") for line in lines)
    tb = folder / "tb"
    assert f"tensorboard: event files in {tb}; view them with: tensorboard --logdir {tb}" in lines


def test_more_cpu_processes_than_cores_and_the_global_batch_are_said_at_start(tmp_path, monkeypatch, capsys, caplog):
    from omegaconf import OmegaConf

    from seqlab.launch import processes

    monkeypatch.setattr(processes, "cpu_cores", lambda: 2)
    cfg = OmegaConf.create({"device": "cpu", "logger": {},
                            "trainer": {"devices": 3, "batch_size": 32, "grad_accum_steps": 1}})
    processes.start_lines(cfg, tmp_path)
    (said,) = capsys.readouterr().err.splitlines()
    assert said == "3 processes train this run (DistributedDataParallel): global batch 96 = batch_size 32 × 3 devices × 1 grad_accum_steps"
    (warned,) = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warned.startswith("trainer.devices=3 on 2 CPU core(s): the processes share the cores")
    processes.start_lines(OmegaConf.merge(cfg, {"trainer": {"devices": 1}}), tmp_path)
    assert capsys.readouterr().err == ""  # one process: nothing to say


@pytest.mark.slow
def test_early_stop_ends_a_run_that_stopped_improving(corpus, tmp_path):
    # lr 1e-30 leaves every fp32 weight as it is: the second evaluation cannot improve on the first
    result = run_cli("train", f"task.source={corpus}", *TINY, "trainer.max_steps=60", "trainer.lr=1e-30",
                     "trainer.early_stop_patience=1", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (run,) = (tmp_path / "outputs").glob("*/*_gru_tinystories")
    summary = json.loads((run / "summary.json").read_text())
    assert (summary["status"], summary["stop_reason"], summary["steps"]) == ("completed", "early_stop", 30)
    assert "stopped early at step 30: val loss did not improve in 1 evaluation(s) in a row" in result.stderr
    refused = run_cli("train", f"task.source={corpus}", *TINY, "trainer.early_stop_patience=0", cwd=tmp_path)
    assert refused.returncode == 2 and refused.stderr.strip().splitlines() == [
        "error: trainer.early_stop_patience must be at least 1 (or null: off), got 0"]


def test_early_stop_is_a_documented_trainer_key():
    from seqlab.config.help import field_docs
    from seqlab.config.schema import TrainerConfig

    assert TrainerConfig().early_stop_patience is None
    assert "evaluations in a row" in field_docs(TrainerConfig)["early_stop_patience"][1]
    assert "early_stop_patience: null" in (REPO / "conf" / "trainer" / "default.yaml").read_text()


def test_a_run_has_its_metrics_file_before_its_first_log_step(corpus, tmp_path):
    from seqlab.config.compose import compose
    from seqlab.engine.trainer import Trainer

    cfg = compose([f"task.source={corpus}", *TINY])
    Trainer(cfg, tmp_path / "run")  # stopped here, before any step
    assert (tmp_path / "run" / "metrics.jsonl").read_text() == ""


# --- one line for a bad option, a bad value, a wrong case ----------------------------------------

@pytest.mark.parametrize("args, names", [
    (["sample", "RUN", "--max-new-tokens", "abc"], ["--max-new-tokens", "'abc'", "seqlab sample --help"]),
    (["flops", "--batch", "x"], ["--batch", "'x'"]),
    (["gates", "--x0=a"], ["--x0", "'a'"]),
    (["compare", "RUN", "--nope"], ["--nope"]),
    (["eval"], ["Missing argument"]),
    (["nope"], ["No such command 'nope'"]),
])
def test_a_bad_option_is_one_error_line(tmp_path, args, names):
    result = run_cli(*args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: ") and all(n in line for n in names), line


def test_no_command_still_prints_the_help(tmp_path):
    result = run_cli(cwd=tmp_path)
    assert result.returncode == 2 and "Usage" in result.stdout + result.stderr and "error" not in result.stderr


@pytest.mark.parametrize("override, expected", [
    ("model=GRU", "error: no model 'GRU': did you mean model=gru? (available: "),
    ("model=zzzz", "error: no model 'zzzz' (available: "),
    ("trainer.max_steps=abc", "error: trainer.max_steps=abc: trainer.max_steps takes an integer, not 'abc'"),
    ("trainer.compile=maybe", "error: trainer.compile=maybe: trainer.compile takes true or false, not 'maybe'"),
])
def test_wrong_case_and_wrong_types_are_seqlabs_one_line(tmp_path, override, expected):
    result = run_cli("train", override, cwd=tmp_path)
    (line,) = result.stderr.strip().splitlines()
    assert result.returncode == 2 and line.startswith(expected), line


def test_a_launcher_of_an_extra_not_installed_names_the_extra():
    from seqlab.config.hints import explain

    line = explain("In 'hydra/config': Could not find 'hydra/launcher/joblib'; available: basic", [])
    assert line == "no hydra/launcher 'joblib': its package is not installed: pip install 'seqlab[sweep]' (available: basic)"


# --- the install: what make train and make test each put in the venv ----------------------------

def test_make_train_installs_no_extras_and_make_test_adds_them(tmp_path):
    def planned(target: str) -> str:
        return subprocess.run(["make", "-n", "-C", str(REPO), f"VENV={tmp_path / 'v'}", target],
                              capture_output=True, text=True, check=True).stdout

    train = planned("train")
    assert 'pip install --quiet -e .\n' in train and "[" not in train.split("-e .", 1)[1].split("\n", 1)[0]
    assert not re.search(r"tracking|sweep|cluster|mlflow|wandb|tensorboard", train)
    test = planned("test")
    assert 'pip install --quiet -e ".[dev,sweep,cluster,bpe,tracking,search]"' in test
    assert f"touch {tmp_path / 'v'}/.installed\n" in test and ".installed-test" in test


# --- --help-config: every key, its type, default and doc ----------------------------------------

def test_help_config_prints_the_keys_of_the_named_family(tmp_path):
    result = run_cli("train", "--help-config", "model", "model=lstm", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("model: lstm")
    at = lines.index("  model.hidden_size: int = 256")
    assert lines[at + 1].strip().startswith("Width of the hidden (and, for the LSTM, cell) state")
    every = run_cli("train", "--help-config", cwd=tmp_path).stdout
    for key in ("  trainer.max_steps: int = 2000", "  trainer.early_stop_patience: int | None = null",
                "  task.seq_len: int = 20", "  seed: int = 1337", "  model.name: str = gru"):
        assert key in every
    wrong = run_cli("train", "--help-config", "modle", cwd=tmp_path)
    assert wrong.returncode == 2 and "--help-config takes a group: model, task, trainer" in wrong.stderr
    assert "--help-config" in run_cli("train", "--help", cwd=tmp_path, env={"COLUMNS": "120"}).stdout


# --- seqlab flops: which T, and curves that do not hide each other --------------------------------

def test_flops_says_which_lengths_it_counts(tmp_path):
    default = run_cli("flops", "model=transformer", "--no-measure", cwd=tmp_path).stdout.splitlines()[0]
    assert default.startswith("lengths: T = 20 (task.seq_len, the windows tinystories runs train on) and "
                              "T = 100 (model.block_size")
    given = run_cli("flops", "model=transformer", "--seq-len", "100", "--no-measure", cwd=tmp_path)
    assert given.stdout.splitlines()[0] == "lengths: T = 100 (from --seq-len)"


def test_flops_plot_keeps_identical_curves_visible(tmp_path, monkeypatch):
    import seqlab.analysis.flops_report as report
    import seqlab.plots as plotting

    drawn = []
    monkeypatch.setattr(plotting, "save_figure", lambda fig, path, **kw: drawn.append(fig))
    report.plot_scaling(128, 1, 86, tmp_path / "f.png", t_max=1000)
    drawn[0].canvas.draw()
    lines = drawn[0].axes[0].get_lines()
    same = [(a, b) for i, a in enumerate(lines) for b in lines[i + 1:] if list(a.get_ydata()) == list(b.get_ydata())]
    assert same  # the encoder's FLOPs are the transformer's
    for a, b in same:
        assert (a.get_linestyle(), a.get_marker()) != (b.get_linestyle(), b.get_marker())
        assert f"(= {a.get_label()})" in b.get_label()
    ticks = [t.get_text() for t in drawn[0].axes[0].get_xticklabels()]
    assert "×" not in "".join(ticks) and "$" not in "".join(ticks)


# --- pictures: attention titles and colour bar, gate values near 1 --------------------------------

def test_attention_heatmaps_have_a_title_and_a_labelled_colour_bar(tmp_path, monkeypatch):
    import torch

    import seqlab.plots as plotting
    from seqlab.analysis.attention import plot_attention

    figs = []
    monkeypatch.setattr(plotting, "save_figure", lambda fig, path, **kw: figs.append(fig))
    maps = [torch.softmax(torch.randn(1, 2, 4, 4), -1)]
    plot_attention(maps, list("Lily"), tmp_path / "a.png", title="run: attention on 'Lily'")
    fig = figs[0]
    assert fig.get_suptitle() == "run: attention on 'Lily'"
    assert any(ax.get_ylabel().startswith("attention weight") for ax in fig.axes)


def test_gate_bars_never_round_a_nearly_shut_gate_to_one():
    from seqlab.analysis.gates import bar_label

    assert bar_label(0.998) == "0.998" and bar_label(0.5) == "0.500"
    assert bar_label(0.999994) == "1-6e-06" and bar_label(-0.99999) == "-(1-1e-05)"
    assert bar_label(0.0000453) == "4.5e-05" and bar_label(1.0) == "1.000"
