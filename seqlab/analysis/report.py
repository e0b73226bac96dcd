"""`seqlab report`: one self-contained HTML page about a set of runs, to open with no network.

The runs are found, loaded, ranked, named and grouped exactly as `seqlab compare` does it
(seqlab/analysis/compare.py and groups.py; the interval is analysis/stats.py's), and the curves
are compare's own plot. The page holds, in order: a header (what was compared, when, seqlab's
version and commit, the machines the runs record), the runs' table, the grouped table
(--group), the metric against step, wall time and training FLOPs, the config keys whose values
differ, each run's last samples, and the scaling fits when a folder named holds what
`seqlab scaling` writes (scaling.json, scaling_isoflop.png, scaling_laws.png).

Pictures are PNGs inside the page (data: URIs); there is no script and nothing external
(seqlab/analysis/report_html.py).
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

import seqlab
from seqlab.analysis import compare, groups
from seqlab.analysis import report_html as h
from seqlab.analysis.compare import METRICS, X_AXES, Metric, run_labels, short_keys, table_rows
from seqlab.data.saved import json_or_none
from seqlab.errors import SeqlabError, warn
from seqlab.runs import FLOPS, SAMPLES, reader
from seqlab.runs.atomic import atomic_write_text
from seqlab.runs.reader import BOOKKEEPING_KEYS, Run, differing_keys, format_value, name_runs

SMOOTH = 0.6
"""EMA weight of the past for the training curves: `seqlab compare`'s default."""
CURVE_AXES = ("step", "time", "flops")
SAMPLES_SHOWN = 3
"""Samples shown per run: the first ones of its last evaluation."""
SAMPLE_CHARS = 2000
SCALING_FILES = ("scaling.json", "scaling_isoflop.png", "scaling_laws.png")
"""What `seqlab scaling` writes into one folder (seqlab/analysis/scaling.py)."""


def report_command(paths: list[str], metric: str, group: str | None, out: Path | None) -> Path:
    """Load the runs as compare does, write the page to `out` (see output_file) and return its path."""
    from rich.console import Console

    if metric not in METRICS:
        raise SeqlabError(f"--metric must be one of {', '.join(METRICS)}, got '{metric}'")
    run_paths, fit_folders = split_scaling(paths)
    if not run_paths:
        raise SeqlabError("name at least one run folder, sweep folder or glob (a folder of seqlab scaling's "
                          "files alone holds no run)")
    runs, metric, ranked_note = compare.load_runs(run_paths, metric, Console(stderr=True, soft_wrap=True))
    spec = METRICS[metric]
    choices = groups.resolve_options(runs, "step", list(X_AXES), [], group, None)
    keys = differing_keys([r.config for r in runs])
    name_runs(runs, keys)
    runs.sort(key=lambda r: compare.rank_key(r, spec))

    sections = [header_section(paths, runs, metric, ranked_note),
                runs_section(runs, keys, spec, metric, ranked_note)]
    if choices.group:
        sections.append(group_section(runs, choices, spec))
    sections += [curves_section(runs, keys, metric, spec), config_section(runs, keys), samples_section(runs)]
    sections += [s for s in [scaling_section(fit_folders)] if s]
    where = paths[0] if len(paths) == 1 else f"{len(paths)} folders"
    text = h.page(f"seqlab report: {len(runs)} run(s)", f"{where}, ranked by {metric}", sections)
    path = output_file(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, text)
    print(f"wrote {path}")
    return path


def output_file(out: Path | None) -> Path:
    """--out as given, or report.html in it when it is a folder or a name without a suffix; by
    default, like compare's outputs, a new outputs/report/<date>/<time>/report.html under
    SEQLAB_OUTPUTS (never into the folders read)."""
    if out is None:
        now = datetime.now()
        return (Path(os.environ.get("SEQLAB_OUTPUTS", "outputs")) / "report" / now.strftime("%Y-%m-%d")
                / now.strftime("%H-%M-%S") / "report.html")
    out = Path(out)
    return out / "report.html" if out.is_dir() or not out.suffix else out


# --- the header: what, when, which seqlab, which machines ------------------------------------

def header_section(paths: list[str], runs: list[Run], metric: str, ranked_note: str) -> str:
    """What was compared, when, by which seqlab, and the machines the runs record."""
    from seqlab.tracking.run_files import git_commit

    pairs = [("compared", ", ".join(paths)), ("runs", str(len(runs))),
             ("ranked by", f"{metric}{ranked_note}"), ("date", datetime.now().strftime("%Y-%m-%d %H:%M:%S")),
             ("seqlab", seqlab.__version__), ("git commit", git_commit() or "unknown (not a git checkout)")]
    header, rows = machine_rows(runs)
    body = h.facts(pairs) + h.table(header, rows, "machines the runs record (run numbers as in the table)",
                                   table_id="machines")
    return h.section("What was compared", body, "what")


def machine_rows(runs: list[Run]) -> tuple[list[str], list[list[str]]]:
    """One row per distinct set of machine facts the runs record (summary.json's device and
    world size, the config's threads and precision, flops.json's peak and where it came from)."""
    from seqlab.plots import plain_number

    seen: dict[tuple[str, ...], list[int]] = {}
    for number, run in enumerate(runs, 1):
        flops = json_or_none(run.path / FLOPS) or {}
        peak = flops.get("peak_flops")
        source = flops.get("peak_source")
        fact = (format_value(run.summary.get("device") or run.config.get("device")),
                format_value(run.summary.get("world_size")), format_value(run.config.get("threads")),
                format_value(run.config.get("trainer.precision")),
                f"{plain_number(peak)} FLOP/s" if isinstance(peak, int | float) else "-",
                source.split(" (", 1)[0] if isinstance(source, str) else "-")
        seen.setdefault(fact, []).append(number)
    header = ["device", "processes", "threads", "precision", "peak", "peak measured on", "runs"]
    return header, [[*fact, numbers_text(numbers)] for fact, numbers in seen.items()]


def numbers_text(numbers: list[int]) -> str:
    """Run numbers as the tables show them: #1, #3."""
    return ", ".join(f"#{n}" for n in numbers)


# --- tables ------------------------------------------------------------------------------------

def runs_section(runs: list[Run], keys: list[str], spec: Metric, metric: str, ranked_note: str) -> str:
    """compare's table (compare.md's columns), numbered by rank as the curves' legend is."""
    header, rows, _ = table_rows(runs, keys, spec)
    labels = [short_keys(keys).get(k, k) for k in header]
    better = "higher" if spec.higher_is_better else "lower"
    caption = f"{len(runs)} run(s), sorted by {metric} ({better} is better{ranked_note})"
    unfinished = [r.summary.get("status") != "completed" for r in runs]
    body = h.table(["#", *labels], [[str(i), *row] for i, row in enumerate(rows, 1)], caption, unfinished,
                   table_id="runs")
    if any(unfinished):
        body += h.paragraph("Highlighted: runs that did not complete (still running, stopped or broken).", note=True)
    return h.section("Runs", body, "ranked")


def group_section(runs: list[Run], choices: groups.Choices, spec: Metric) -> str:
    """compare --group's table: each value's runs that differ only by seed, pooled."""
    title, header, rows, _, _ = groups.group_table(runs, choices, spec, lambda k: short_keys([k])[k])
    flagged = [bool(row[-1]) if header[-1] == "note" else False for row in rows]
    body = h.table(header, rows, title, flagged, table_id="groups")
    if any(flagged):
        body += h.paragraph(f"Highlighted: {groups.SMALL_N}, or runs left out (see the note).", note=True)
    return h.section(f"Grouped by {choices.group}", body, "grouped")


def config_section(runs: list[Run], keys: list[str]) -> str:
    """Each config key whose value differs between the runs, with which runs hold which value."""
    attributes = [a for a in groups.ATTRIBUTES if len({groups.value_of(r, a) for r in runs}) > 1]
    rows = []
    for key in [*attributes, *keys]:
        holders: dict[str, list[int]] = {}
        for number, run in enumerate(runs, 1):
            holders.setdefault(format_value(groups.value_of(run, key)), []).append(number)
        shown = "; ".join(f"{value} ({numbers_text(n)})" for value, n in holders.items())
        rows.append([key, shown, "logging only" if key in BOOKKEEPING_KEYS else ""])
    if not rows:
        return h.section("Config differences", h.paragraph("Every run has the same config."), "differences")
    return h.section("Config differences", h.table(["key", "values (runs)", ""], rows, table_id="config"), "differences")


# --- curves and samples ------------------------------------------------------------------------

def curves_section(runs: list[Run], keys: list[str], metric: str, spec: Metric) -> str:
    """compare's plot of the metric against step, wall time and training FLOPs (the axes some run
    records), as embedded PNGs; a sweep evaluated once per run is one bar chart."""
    from seqlab.analysis.compare_plot import plot_compare

    labels = [f"{i}  {s}" for i, s in enumerate(run_labels(runs, keys), 1)]
    once = all(len(compare.values(r, spec)) <= 1 for r in runs)  # compare draws bars then, on any axis
    axes = [X_AXES[a] for a in (CURVE_AXES[:1] if once else CURVE_AXES)
            if any(isinstance(rec.get(X_AXES[a].key), int | float) for r in runs for rec in r.records)]
    figures: list[str] = []
    with tempfile.TemporaryDirectory() as folder:
        for axis in axes:
            png = plot_compare(runs, Path(folder) / f"{axis.key}.png", axis, metric, spec, SMOOTH, False, warn,
                               labels=labels)
            figures.append(h.image(png.read_bytes(), f"{metric} vs {axis.label}",
                                   f"{metric} against {axis.label}; legend numbers are the table's #"))
    return h.section("Curves", h.figures(figures) if figures else h.paragraph("No run records a curve."), "curves")


def last_samples(run: Run) -> str | None:
    """The first SAMPLES_SHOWN samples of the run's last evaluation in samples.txt (None: none)."""
    try:
        text = (run.path / SAMPLES).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    blocks = [b for b in text.split("=== step ") if b.strip()]
    if not blocks:
        return None
    lines, started = [], 0
    for line in f"=== step {blocks[-1].rstrip()}".splitlines():
        started += line.startswith("--- sample ")
        if started > SAMPLES_SHOWN:
            break
        lines.append(line)
    shown = "\n".join(lines)
    return shown if len(shown) <= SAMPLE_CHARS else shown[:SAMPLE_CHARS] + " …"


def samples_section(runs: list[Run]) -> str:
    """Each run's last samples, numbered as in the runs' table."""
    parts = []
    for number, run in enumerate(runs, 1):
        found = last_samples(run)
        parts.append(f"<h3>#{number} {h.esc(run.name)}</h3>")
        parts.append(h.preformatted(found) if found else h.paragraph("no samples.txt", note=True))
    note = h.paragraph(f"Each run's last evaluation in samples.txt, its first {SAMPLES_SHOWN} samples.", note=True)
    return h.section("Samples", note + "\n".join(parts), "samples")


# --- scaling fits (seqlab scaling's files, in a folder named) -----------------------------------

def split_scaling(paths: list[str]) -> tuple[list[str], list[Path]]:
    """The arguments that name runs, and the folders named that hold seqlab scaling's files. A
    folder of those files with no run below it (seqlab scaling's own outputs/scaling/<date>/<time>)
    is read for its fits only; a sweep folder they were written into is both."""
    runs, fits = [], []
    for arg in paths:
        folder = Path(arg)
        holds_fits = folder.is_dir() and any((folder / name).is_file() for name in SCALING_FILES)
        if holds_fits:
            fits.append(folder)
        if not holds_fits or reader.runs_under(folder):
            runs.append(arg)
    return runs, list(dict.fromkeys(fits))


def scaling_section(folders: list[Path]) -> str | None:
    """scaling.json's per-family fits and the scaling figures of `folders`; None without any."""
    parts = []
    for folder in folders:
        if (folder / SCALING_FILES[0]).is_file():
            parts.append(scaling_table(json_or_none(folder / SCALING_FILES[0]), folder))
        for name, caption in zip(SCALING_FILES[1:], ("IsoFLOP curves", "fitted scaling laws")):
            if (folder / name).is_file():
                parts.append(h.image((folder / name).read_bytes(), caption, f"{caption} ({folder / name})"))
    return h.section("Scaling fits", "\n".join(parts), "scaling-fits") if parts else None


def scaling_families(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """scaling.json's `families` as {name: dotted keys}: a list of objects that name their
    `family`, or an object keyed by name; nested laws ({"n_opt_law": {"a", "a_ci", "k"}}) become
    n_opt_law.a, n_opt_law.a_ci, n_opt_law.k. Anything else: no families."""
    found = data.get("families")
    if isinstance(found, list):
        found = {str(f.get("family", i)): f for i, f in enumerate(found) if isinstance(f, dict)}
    if not isinstance(found, dict):
        return {}
    return {str(name): {k: v for k, v in reader.flatten(fam).items() if k != "family"}
            for name, fam in found.items() if isinstance(fam, dict)}


def scaling_table(data: Any, folder: Path) -> str:
    """One row per family: each of its numbers (an `X_ci` [low, high] beside its `X`) and words;
    the file's top-level numbers and words, and its `problems` lines, around it. What is not
    understood (lists, nested objects of other shapes) is left out."""
    if not isinstance(data, dict):
        return h.paragraph(f"{folder / SCALING_FILES[0]} could not be read as a JSON object.", note=True)
    top = [(k, cell(v)) for k, v in data.items() if cell(v) is not None]
    families = scaling_families(data)
    columns = list(dict.fromkeys(k for fam in families.values() for k, v in fam.items()
                                 if cell(v) is not None and not k.endswith("_ci")))
    rows = [[name, *[" ".join(c for c in (cell(fam.get(k)) or "-", cell(fam.get(f"{k}_ci"), pair=True)) if c)
                     for k in columns]] for name, fam in families.items()]
    problems = data.get("problems") if isinstance(data.get("problems"), list) else []
    shown = [h.facts(top)] if top else []
    if rows:
        shown.append(h.table(["family", *columns], rows, f"per-family fits ({folder / SCALING_FILES[0]})",
                             table_id="scaling"))
    shown += [h.paragraph(p, note=True) for p in problems if isinstance(p, str)]
    return "\n".join(shown) or h.paragraph(f"{folder / SCALING_FILES[0]} holds no fits.", note=True)


def cell(value: Any, pair: bool = False) -> str | None:
    """A number or a short word as text, or with `pair` a [low, high] interval; None for anything
    else (null, lists, nested objects)."""
    if pair:
        numbers = isinstance(value, list) and len(value) == 2 and all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        return f"[{value[0]:.4g}, {value[1]:.4g}]" if numbers else None
    if isinstance(value, bool) or isinstance(value, str) and len(value) <= 200:
        return str(value)
    return f"{value:.4g}" if isinstance(value, int | float) else None
