"""Run folders for `seqlab compare`: find them, load them as far as they go, name them.

A run folder may be complete, still running (no summary.json yet), crashed or torn
(a half-written last line in metrics.jsonl). Loading never raises for those: it fills
what is missing from what is there and reports each gap through `warn`.
"""

from __future__ import annotations

import glob
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seqlab.data.saved import DamagedFileError, damaged, json_or_none, read_yaml
from seqlab.errors import SeqlabError
from seqlab.runs import CHECKPOINTS, CONFIG, FLOPS, HYDRA_RECORDS, LAST, METRICS, READABLE, SUMMARY

# Keys that differ between runs without telling them apart (or that the name already shows).
IGNORED_KEYS = {"trainer.resume", "task.cache_dir", "model.name", "task.name"}
# Keys that change how a run is logged, not what it learns: columns, but not part of names.
BOOKKEEPING_KEYS = {"device", "threads", "trainer.eval_every", "trainer.log_every", "trainer.num_samples",
                    "trainer.sample_prompt", "trainer.sample_tokens", "trainer.sample_temperature",
                    "trainer.checkpoint_every", "trainer.keep_last", "trainer.max_skipped_steps",
                    "trainer.peak_flops"}
Warn = Callable[[str], None]


@dataclass
class Run:
    """One run folder as far as it could be read."""

    path: Path
    config: dict[str, Any]
    """The resolved config, flattened to dotted keys."""
    summary: dict[str, Any]
    """summary.json, with gaps filled from metrics.jsonl."""
    records: list[dict[str, Any]]
    model: str = "?"
    task: str = "?"
    name: str = field(default="")


def is_run(path: Path) -> bool:
    return path.is_dir() and any((path / f).is_file() for f in READABLE)


def find_runs(paths: list[str]) -> tuple[list[Path], list[Path]]:
    """Run folders named by RUN_DIRs, folders holding runs at any depth (a sweep, a date folder,
    outputs/ itself) or globs; and the folders searched that hold no run (reported, not used)."""
    found: list[Path] = []
    skipped: list[Path] = []
    for arg in paths:
        path = Path(arg).expanduser()
        if path.exists():
            matches = [path]
        elif glob.has_magic(arg):  # a quoted glob reaches us unexpanded: expand it here
            matches = [Path(m) for m in sorted(glob.glob(os.path.expanduser(arg)))]
            if not matches:
                raise SeqlabError(f"no run folder matches '{arg}'")
        else:
            raise SeqlabError(f"no such run folder, sweep folder or glob: '{arg}'")
        runs = []
        for match in matches:
            runs += runs_under(match, skipped)
        if not runs:
            raise SeqlabError(f"'{arg}' holds no seqlab run (no {', '.join(READABLE)} in it or in any "
                              "folder below it)")
        found += runs
    unique = list({p.resolve(): p for p in found}.values())  # the same run named twice counts once
    return unique, skipped


def runs_under(path: Path, skipped: list[Path] | None = None) -> list[Path]:
    """Every run folder at or below `path` (a run's own subfolders are not searched); folders
    at the bottom of the tree that are no run are appended to `skipped`."""
    if is_run(path):
        return [path]
    if not path.is_dir():
        return []
    children = sorted((c for c in path.iterdir() if c.is_dir() and not c.name.startswith(".")),
                      key=_natural)
    if not children and skipped is not None:
        skipped.append(path)
    return [r for c in children for r in runs_under(c, skipped)]


def require_run(path: Path) -> None:
    """A folder that holds runs but is none (a sweep or date folder) -> an error naming them."""
    path = Path(path)
    if not path.is_dir() or is_run(path):
        return  # a run, a checkpoint folder or nothing: the loader's own errors say the rest
    inside = runs_under(path)
    if inside:
        shown = ", ".join(str(p) for p in inside[:10]) + (f" and {len(inside) - 10} more" if len(inside) > 10 else "")
        raise SeqlabError(f"'{path}' is not a run folder but holds {len(inside)} run(s); name one: {shown}")


def recorded_overrides(path: Path) -> list[str]:
    """The overrides a run was started with (.hydra/overrides.yaml); damage is one line naming it."""
    file = Path(path) / HYDRA_RECORDS / "overrides.yaml"
    fix = "it lists the overrides the run was started with: restore it, or start the run again"
    overrides = read_yaml(file, fix) or []
    if not isinstance(overrides, list) or not all(isinstance(o, str) for o in overrides):
        raise damaged(file, "not a list of overrides", fix)
    return overrides


def _natural(path: Path) -> tuple:
    """Sweep subfolders 0_, 1_, ..., 10_ in numeric order."""
    head = path.name.split("_", 1)[0]
    return (0, int(head), path.name) if head.isdigit() else (1, 0, path.name)


def load_run(path: Path, warn: Warn) -> Run:
    """Read one run folder; every missing or broken file is a warning, never an exception."""
    config = _read_config(path, warn)
    records = _read_records(path, warn)
    summary = _read_json(path / SUMMARY)
    if summary is None:
        state = "broken" if (path / SUMMARY).exists() else "no"
        warn(f"{path}: {state} summary.json (still running or crashed): using metrics.jsonl as far as it goes")
        summary = {"status": "incomplete"}
    _fill_summary(summary, records, path)
    choices = _hydra_choices(path)
    model = choices.get("model") or config.get("model.name") or summary.get("model") or "?"
    task = choices.get("task") or config.get("task.name") or summary.get("task") or "?"
    return Run(path, config, summary, records, str(model), str(task))


def _read_json(path: Path) -> dict[str, Any] | None:
    return json_or_none(path)


def _yaml_or_none(path: Path) -> dict[str, Any] | None:
    try:
        return read_yaml(path, "", dict)
    except DamagedFileError:
        return None


def _read_config(path: Path, warn: Warn) -> dict[str, Any]:
    for candidate in (path / CONFIG, path / HYDRA_RECORDS / CONFIG):
        data = _yaml_or_none(candidate)
        if isinstance(data, dict):
            if candidate.parent != path:
                warn(f"{path}: no config.yaml; using Hydra's unresolved .hydra/config.yaml")
            return flatten(data)
    warn(f"{path}: no readable config.yaml: its config keys are unknown")
    return {}


def _read_records(path: Path, warn: Warn) -> list[dict[str, Any]]:
    """metrics.jsonl line by line; unparseable lines (a torn last write) are skipped and counted."""
    file = path / METRICS
    try:
        lines = file.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        warn(f"{path}: no metrics.jsonl: no curves for this run")
        return []
    records, bad = [], 0
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            bad += bool(line.strip())
            continue
        if isinstance(record, dict) and isinstance(record.get("step"), int | float):
            if "elapsed_s" in record:  # runs before checkpoint format 2 named wall time so
                record.setdefault("wall_s", record.pop("elapsed_s"))
            records.append(record)
        else:
            bad += 1
    if bad:
        warn(f"{path}: skipped {bad} unreadable line(s) of metrics.jsonl")
    return records


def _fill_summary(summary: dict[str, Any], records: list[dict[str, Any]], path: Path) -> None:
    """Fill what summary.json lacks (a run without one) from the records and flops.json."""
    def put(key: str, value: Any) -> None:
        if summary.get(key) is None and value is not None:
            summary[key] = value

    if records:
        last = records[-1]
        put("steps", last.get("step"))
        put("tokens", last.get("tokens"))
        put("tokens_per_s", last.get("tokens_per_s"))
        put("wall_s", last.get("wall_s"))
        put("flops", last.get("flops"))
        evals = [r for r in records if r.get("val_loss") is not None]
        if evals:
            best = min(evals, key=lambda r: r["val_loss"])
            put("best_val_loss", best["val_loss"])
            put("best_val_bpc", best.get("val_bpc"))
            for key, value in evals[-1].items():
                if key.startswith("val_"):
                    put(f"final_{key}", value)
    if summary.get("params") is None:
        flops = _read_json(path / FLOPS) or {}
        put("params", (flops.get("per_token") or {}).get("params"))
    if summary.get("params") is None:  # the newest checkpoint's meta.json knows it too
        pointer = _read_json(path / CHECKPOINTS / LAST) or {}
        if isinstance(pointer.get("dir"), str):
            put("params", (_read_json(path / CHECKPOINTS / pointer["dir"] / "meta.json") or {}).get("params"))


def _hydra_choices(path: Path) -> dict[str, Any]:
    """The preset names the run was composed from (gru_small, not gru), when Hydra recorded them."""
    data = _yaml_or_none(path / HYDRA_RECORDS / "hydra.yaml") or {}
    try:
        return dict(data["hydra"]["runtime"]["choices"])
    except (KeyError, TypeError, ValueError):
        return {}


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"model": {"hidden_size": 8}} -> {"model.hidden_size": 8}."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict) and value:
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def differing_keys(configs: list[dict[str, Any]]) -> list[str]:
    """Config keys whose values differ between the runs, in config order.

    A key only some runs have (a family-specific key like an RNN's nonlinearity) counts
    only if the runs that have it disagree: it is not what tells the runs apart.
    """
    keys = list(dict.fromkeys(k for c in configs for k in c))
    out = []
    for key in keys:
        if key in IGNORED_KEYS:
            continue
        values = {json.dumps(c[key], sort_keys=True, default=str) for c in configs if key in c}
        if len(values) > 1:
            out.append(key)
    return out


def format_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, str) and "/" in value:  # a path: its last part tells it apart
        return value.rstrip("/").rsplit("/", 1)[-1]
    return "-" if value is None else str(value)


def key_labels(keys: list[str]) -> dict[str, str]:
    """model.hidden_size -> hidden_size, unless two keys end the same way."""
    tails = [k.rsplit(".", 1)[-1] for k in keys]
    return {k: t if tails.count(t) == 1 else k for k, t in zip(keys, tails)}


def name_runs(runs: list[Run], keys: list[str]) -> None:
    """Short names: model, task and the differing keys that change what a run learns."""
    labels = key_labels(keys)
    for run in runs:
        parts = [run.model, run.task] + [f"{labels[k]}={format_value(run.config[k])}"
                                         for k in keys if k in run.config and k not in BOOKKEEPING_KEYS]
        run.name = " ".join(parts)
    seen: dict[str, int] = {}
    for run in runs:
        seen[run.name] = seen.get(run.name, 0) + 1
    for run in runs:  # identical configs (repeats): the folder name tells them apart
        if seen[run.name] > 1:
            run.name += f" [{run.path.name}]"
