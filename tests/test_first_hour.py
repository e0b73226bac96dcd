"""What a new user trips over in the first hour: each behaviour the fix promises."""

from __future__ import annotations

import json
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
