"""The results table of `seqlab reproduce`, built from run folders only, and put into the README."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

START, END = "<!-- reproduce:start -->", "<!-- reproduce:end -->"


def _run_row(folder: Path) -> dict[str, Any]:
    """One table row from a run folder, read by the same loader `seqlab compare` uses (a
    still-running or broken run is used as far as it goes, with a warning)."""
    from seqlab.errors import warn
    from seqlab.runs.reader import load_run

    run = load_run(folder, warn)
    summary = run.summary
    references = {r["run"]: r["train_loss"] for r in run.config.get("reference") or []}
    label = next((o for o in _overrides(folder) if o in references), folder.name)
    return {
        "experiment": run.config.get("experiment") or folder.parent.name, "run": label, "folder": folder.name,
        "params": summary.get("params"), "steps": summary.get("steps"), "seed": references.get(label),
        "train_loss": run.records[-1].get("train_loss") if run.records else None,
        "val_loss": summary.get("final_val_loss"), "val_bpc": summary.get("final_val_bpc"),
        "wall_s": summary.get("wall_s"), "tokens_per_s": summary.get("tokens_per_s"),
        "status": summary.get("status"), "precision": run.config.get("trainer.precision", "fp32"),
        "threads": run.config.get("threads"),
    }


def _overrides(folder: Path) -> list[str]:
    try:
        return yaml.safe_load((folder / ".hydra" / "overrides.yaml").read_text()) or []
    except (OSError, yaml.YAMLError):
        return []


def results(out: Path) -> list[dict[str, Any]]:
    """One row per run folder under out/<experiment>/<run>/, in experiment order."""
    from seqlab.runs.reader import is_run

    return [_run_row(p) for p in sorted(out.glob("*/*")) if p.is_dir() and is_run(p)]


def markdown(rows: list[dict[str, Any]], invocation: dict[str, Any] | None = None) -> str:
    """The README table: the seed's last-batch training loss next to our held-out numbers."""
    fmt = lambda v, spec: "–" if v is None else format(v, spec)
    minutes = lambda v: "–" if v is None else f"{v / 60:.1f} min"
    lines = [
        "| experiment | run | params | steps | seed: train loss (last batch) | ours: train loss (last 50 steps) | "
        "ours: **val loss** | val bpc | precision | threads | wall time | tokens/s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        status = "" if r["status"] == "completed" else f" ({r['status']})"
        lines.append(
            f"| {r['experiment']} | `{r['run']}`{status} | {fmt(r['params'], ',')} | {fmt(r['steps'], ',')} | {fmt(r['seed'], '.3f')} | "
            f"{fmt(r['train_loss'], '.3f')} | **{fmt(r['val_loss'], '.3f')}** | {fmt(r['val_bpc'], '.3f')} | "
            f"{r['precision']} | {fmt(r['threads'], 'd')} | {minutes(r['wall_s'])} | {fmt(r['tokens_per_s'], ',.0f')} |")
    busy = sum(r["wall_s"] or 0 for r in rows)
    lines.append("")
    lines.append(f"The runs' own wall times add up to {busy / 60:.1f} min." + timing_note(rows, invocation))
    return "\n".join(lines)


def timing_note(rows: list[dict[str, Any]], invocation: dict[str, Any] | None) -> str:
    """How long the `seqlab reproduce` that trained these runs took (from last_invocation.json)."""
    if not invocation:
        return ""
    labels = {f"{r['experiment']}/{r['folder']}" for r in rows}
    trained = [label for label in invocation.get("runs", []) if label in labels]
    which = f"all {len(rows)} runs" if len(trained) == len(rows) else f"{len(trained)} of these {len(rows)} runs"
    jobs = invocation.get("jobs")
    return (f" The `seqlab reproduce --jobs {jobs}` that trained {which} ({jobs} side by side; "
            f"finished {invocation.get('finished_utc', '?')}) took **{invocation['wall_s'] / 60:.1f} min** of wall time.")


def update_readme(readme: Path, table: str) -> None:
    """Replace what stands between the reproduce markers of `readme` with `table`."""
    text = readme.read_text()
    if START not in text or END not in text:
        raise ValueError(f"{readme} has no {START} ... {END} markers")
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.S)
    readme.write_text(pattern.sub(lambda _: f"{START}\n{table}\n{END}", text))
