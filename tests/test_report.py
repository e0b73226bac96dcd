"""`seqlab report`: one self-contained HTML page about a set of runs.

Run folders are written directly (no training) for the page's content; one tiny real run (the
suite's shared `trained_run`) is rendered in headless Chromium, which must log no console error
and draw a page that is not blank."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import run_cli

from seqlab.analysis.groups import SMALL_N
from seqlab.analysis.stats import summarize

PNG = b"\x89PNG\r\n\x1a\n"
SAMPLE = 'Once upon a time <script>alert("x")</script> & Tom\'s <b>ball</b>'


def _run(folder: Path, model: str, seed: int, final: float) -> Path:
    """A finished run folder as the trainer leaves it: config, three log records (two with
    evaluations), summary.json and samples.txt with two evaluations of three samples."""
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text(f"model:\n  name: {model}\ntask:\n  name: copy\n"
                                        f"trainer:\n  lr: 0.001\n  precision: fp32\nseed: {seed}\ndevice: cpu\n")
    records = [{"step": 5, "tokens": 40, "wall_s": 0.5, "flops": 1e9, "train_loss": final * 3},
               {"step": 10, "tokens": 80, "wall_s": 1.0, "flops": 2e9, "train_loss": final * 2, "val_loss": final * 2},
               {"step": 20, "tokens": 160, "wall_s": 2.0, "flops": 4e9, "train_loss": final, "val_loss": final}]
    (folder / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n")
    (folder / "summary.json").write_text(json.dumps({
        "status": "completed", "steps": 20, "params": 1234, "tokens": 160, "flops": 4e9, "wall_s": 2.0,
        "device": "cpu", "world_size": 1, "best_val_loss": final, "final_val_loss": final}))
    blocks = [f"=== step {step} | prompt 'Once' ===\n" + "".join(
        f"--- sample {i} ---\n{SAMPLE} (step {step}, sample {i})\n" for i in (1, 2, 3, 4)) for step in (10, 20)]
    (folder / "samples.txt").write_text("\n".join(blocks))
    return folder


FINALS = {"transformer": [1.10, 1.20, 1.30], "llama": [1.00, 1.05]}
"""Final val_loss of each model's runs, one per seed: llama has only two seeds."""


@pytest.fixture
def sweep(tmp_path) -> Path:
    folder = tmp_path / "sweep"
    i = 0
    for model, finals in FINALS.items():
        for seed, final in enumerate(finals, 1):
            _run(folder / f"{i}_{model}_copy", model, seed, final)
            i += 1
    return folder


class Tables(HTMLParser):
    """The text of every cell of every <table id=...> of a page: {id: [[cell, ...], ...]}, and
    the src of every <img>."""

    def __init__(self, page: str):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.images: list[str] = []
        self.current: str | None = None
        self.in_cell = False
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and attrs.get("id"):
            self.current = attrs["id"]
            self.tables[self.current] = []
        elif tag == "tr" and self.current:
            self.tables[self.current].append([])
        elif tag in ("td", "th") and self.current:
            self.tables[self.current][-1].append("")
            self.in_cell = True
        elif tag == "img":
            self.images.append(attrs.get("src") or "")

    def handle_endtag(self, tag):
        if tag == "table":
            self.current = None
        elif tag in ("td", "th"):
            self.in_cell = False

    def handle_data(self, data):
        if self.current and self.in_cell:
            self.tables[self.current][-1][-1] += data


def _report(tmp_path: Path, *args: str) -> tuple[str, Tables]:
    out = tmp_path / "report.html"
    result = run_cli("report", *args, "--out", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"wrote {out}"
    page = out.read_text(encoding="utf-8")
    return page, Tables(page)


def test_page_is_self_contained_with_the_runs_their_config_and_samples(sweep, tmp_path):
    page, parsed = _report(tmp_path, str(sweep))
    # Nothing is fetched: no external src/href, no script, every picture a PNG inside the page.
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.I)
    assert "<script" not in page.lower() and "<link" not in page.lower()
    assert len(parsed.images) == 3  # the metric against step, wall time and FLOPs
    for src in parsed.images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == PNG

    header, *rows = parsed.tables["runs"]
    assert header[:2] == ["#", "name"] and {"params", "tokens", "FLOPs", "wall s", "final val loss"} <= set(header)
    finals = sorted(f for fs in FINALS.values() for f in fs)
    assert [r[header.index("final val loss")] for r in rows] == [f"{f:.4f}" for f in finals]  # best first
    assert [r[0] for r in rows] == [str(i) for i in range(1, 6)]
    assert {r[header.index("params")] for r in rows} == {"1,234"}
    assert {(r[header.index("FLOPs")], r[header.index("wall s")], r[header.index("tokens")]) for r in rows} == {
        ("4 G", "2.0", "160")}
    assert rows[0][1] == "llama copy seed=1"  # final 1.00: the best run

    differences = {key: values for key, values, _ in parsed.tables["config"][1:]}
    assert set(differences) == {"model", "seed"}  # trainer.lr, precision, device: the same everywhere
    assert differences["model"] == "llama (#1, #2); transformer (#3, #4, #5)"

    # Samples: the last evaluation's first three, escaped (the script in them is text, never run).
    assert page.count("(step 20, sample 1)") == 5 and "(step 20, sample 4)" not in page
    assert "(step 10," not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Tom&#x27;s &lt;b&gt;ball&lt;/b&gt;" in page
    assert "Scaling fits" not in page  # no scaling.json or figure in the folder
    assert [row[0] for row in parsed.tables["machines"][1:]] == ["cpu"]


def test_group_shows_n_mean_and_the_t_interval_and_flags_small_n(sweep, tmp_path):
    """Also: without --out the page goes where compare's outputs go, and the path is printed."""
    result = run_cli("report", str(sweep), "--group", "model", cwd=tmp_path,
                     env={"SEQLAB_OUTPUTS": str(tmp_path / "outs")})
    assert result.returncode == 0, result.stderr
    written = Path(result.stdout.strip().removeprefix("wrote "))
    assert written.name == "report.html"
    assert re.fullmatch(r"report/\d{4}-\d\d-\d\d/\d\d-\d\d-\d\d", written.parent.relative_to(tmp_path / "outs").as_posix())
    page = written.read_text(encoding="utf-8")
    parsed = Tables(page)
    header, *rows = parsed.tables["groups"]
    by_model = {row[0]: dict(zip(header, row)) for row in rows}
    three = summarize(FINALS["transformer"])
    assert three.half_width > 0
    transformer = by_model["transformer"]
    assert transformer["n"] == "3" and transformer["mean"] == f"{three.mean:.4f}"
    assert transformer["95% interval"] == f"[{three.mean - three.half_width:.4f}, {three.mean + three.half_width:.4f}]"
    assert transformer["note"] == ""
    assert by_model["llama"]["n"] == "2" and by_model["llama"]["note"] == SMALL_N
    flagged = re.findall(r'<tr class="flagged">(.*?)</tr>', page.split('id="groups"')[1].split("</table>")[0])
    assert len(flagged) == 1 and "llama" in flagged[0]


SCALING = {  # the shape seqlab scaling writes: families a list, each law an object or null
    "metric": "val_loss", "resamples": 200, "confidence": 0.95,
    "budgets": [{"family": "gru", "budget": 1e15, "sizes": [1, 2, 3]}],
    "families": [{"family": "gru", "budgets": [1e15, 1e16], "n_opt_law": {"a": 0.512, "k": -1.5, "a_ci": [0.41, 0.6]},
                  "loss_law": {"b": -0.05, "k": 0.9, "b_ci": [-0.07, -0.03]}, "resamples_used": 198, "refusal": None},
                 {"family": "lstm", "budgets": [1e15], "n_opt_law": None, "loss_law": None, "resamples_used": 0,
                  "refusal": "lstm: 1 usable budget(s), 2 needed: no power law"}, "not an object"],
    "problems": ["lstm: 1 usable budget(s), 2 needed: no power law"]}


def test_scaling_files_are_shown_from_the_sweep_or_their_own_folder(sweep, tmp_path):
    fits = tmp_path / "scaling"  # seqlab scaling's own output folder: no run in it
    fits.mkdir()
    (fits / "scaling.json").write_text(json.dumps(SCALING))
    (fits / "scaling_laws.png").write_bytes(PNG + b"picture")
    page, parsed = _report(tmp_path, str(sweep), str(fits))
    assert parsed.tables["scaling"] == [
        ["family", "n_opt_law.a", "n_opt_law.k", "loss_law.b", "loss_law.k", "resamples_used", "refusal"],
        ["gru", "0.512 [0.41, 0.6]", "-1.5", "-0.05 [-0.07, -0.03]", "0.9", "198", "-"],
        ["lstm", "-", "-", "-", "-", "0", "lstm: 1 usable budget(s), 2 needed: no power law"]]
    assert base64.b64encode(PNG + b"picture").decode() in page
    assert len(parsed.tables["runs"]) == 6  # the runs of the sweep only

    # In the sweep folder itself, keyed by family, or broken: the page is written all the same.
    (sweep / "scaling.json").write_text(json.dumps({"families": {"gru": {"a": 0.5, "a_ci": [0.4, 0.6]}}}))
    _, parsed = _report(tmp_path, str(sweep))
    assert parsed.tables["scaling"] == [["family", "a"], ["gru", "0.5 [0.4, 0.6]"]]
    (sweep / "scaling.json").write_text("{not json")
    page, parsed = _report(tmp_path, str(sweep))
    assert "scaling" not in parsed.tables and "could not be read" in page
    result = run_cli("report", str(fits), cwd=tmp_path)  # fits alone: no run to report on
    assert result.returncode == 2 and result.stderr.startswith("error: name at least one run folder")


@pytest.mark.parametrize("kind", ["missing", "empty"])
def test_missing_or_empty_folder_is_one_line_and_exit_2(tmp_path, kind):
    folder = tmp_path / "runs"
    if kind == "empty":
        folder.mkdir()
    result = run_cli("report", str(folder), "--out", str(tmp_path / "r.html"), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ") and str(folder) in result.stderr
    assert not (tmp_path / "r.html").exists()


CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)


def _chromium(page: Path, profile: Path, *flags: str) -> tuple[str, list[str]]:
    """Headless Chromium on `page`: (stdout, the console lines of its log)."""
    result = subprocess.run([CHROMIUM, "--headless", "--disable-gpu", "--no-sandbox", "--enable-logging=stderr",
                             "--v=0", f"--user-data-dir={profile}", "--virtual-time-budget=2000", *flags,
                             page.resolve().as_uri()], capture_output=True, text=True, timeout=60)
    return result.stdout, [line for line in result.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary on PATH (Debian: apt-get install chromium)")
def test_a_real_run_renders_in_headless_chromium(trained_run, tmp_path):
    import matplotlib.image

    out = tmp_path / "page" / "report.html"
    result = run_cli("report", str(trained_run), "--out", str(out.parent), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"wrote {out}"  # a name without a suffix is a folder
    broken = tmp_path / "broken.html"  # the check itself: a script error is seen
    broken.write_text("<html><body><script>notDefined();</script></body></html>")
    assert any("Uncaught ReferenceError" in line for line in _chromium(broken, tmp_path / "profile")[1])

    shot = tmp_path / "shot.png"
    dom, console = _chromium(out, tmp_path / "profile", "--dump-dom", f"--screenshot={shot}",
                             "--window-size=1000,1400")
    assert console == []
    assert '<table id="runs">' in dom and "gru tinystories" in dom and "completed" in dom
    pixels = matplotlib.image.imread(shot)[:, :-20, :3]  # (H, W - 20, 3) in [0, 1], no scrollbar
    drawn = (pixels.min(axis=-1) < 0.9).any(axis=1).mean()  # share of rows with a pixel not near white
    assert drawn > 0.5, f"only {drawn:.0%} of the screenshot's rows hold anything: an empty page?"
