"""`seqlab scaling`: compute-optimal model size from IsoFLOP runs (Chinchilla's approach 2).

Runs are found and read as `seqlab compare` reads them (run folders, sweep folders, globs) and
grouped by family (the model preset a run was composed from, as `compare --group model` names
it) and compute budget C: the run's config `trainer.flops_budget`, or for a run without one its
summary.json `flops` rounded to 2 significant digits. For each (family, budget) with at least 3
distinct parameter counts N (summary.json `params`), the final metric L (default val_loss) is
fitted with a parabola in log10 N, L = c2 u^2 + c1 u + c0 with u = log10 N; its minimum is
N_opt(C) and L_opt(C). Per family, over the budgets whose fit is usable, least squares in
log-log give the power laws N_opt = 10^k C^a and L_opt = 10^k' C^b.

Intervals: `resamples` bootstrap draws (fixed rng seed) of the runs within each budget, with
replacement (a draw of fewer than 3 sizes is drawn again); each draw refits every parabola and
both power laws; 95% percentile intervals. A draw whose parabola opens downward has no minimum:
it is left out of that budget's interval and of its family's a and b.

Refused, one line each, never fitted wrongly: a budget of fewer than 3 sizes, a parabola that
opens downward, a minimum at or beyond the edge of the ladder (N_opt outside the sizes run):
such budgets are listed and left out of the power laws; a family with fewer than 2 usable
budgets gets no power law. Nothing usable at all: SeqlabError.

scaling.json (written with scaling_isoflop.png and scaling_laws.png into one folder):
    metric          the metric fitted (val_loss, val_bpc, ...); metric_key: its metrics.jsonl key
    resamples, seed, confidence (0.95)
    budgets: one object per (family, budget), families then budgets in increasing order:
        family, budget (FLOPs), budget_source ("trainer.flops_budget" or "flops")
        runs: [{path, params, loss}], sizes (distinct N, increasing)
        coeffs: [c2, c1, c0] of L(log10 N), or null (fewer than 3 sizes)
        n_opt, n_opt_ci [low, high], loss_opt, loss_opt_ci: null when refused
        used (in the power laws), refusal (the printed line, or null), note (or null)
    families: one object per family:
        family, budgets (those used), n_opt_law {a, k, a_ci}, loss_law {b, k, b_ci}:
        log10 N_opt = a log10 C + k, log10 L_opt = b log10 C + k; both null with a refusal
        line when fewer than 2 budgets are usable; resamples_used (draws where every used
        budget had a minimum)
    problems: every refusal line, in the order printed
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from seqlab.analysis.compare import METRICS
from seqlab.analysis.groups import final_value, value_of
from seqlab.errors import SeqlabError, warn
from seqlab.plots import plain_number
from seqlab.runs.reader import Run

CONFIDENCE = 0.95
MIN_SIZES = 3
FITTABLE = ("val_loss", "val_bpc", "val_bpb", "train_loss")
"""Metrics a minimum means something for: losses, lower is better."""
FILES = ("scaling.json", "scaling_isoflop.png", "scaling_laws.png")
LEFT_OUT = "; left out"


@dataclass
class BudgetFit:
    """One family at one compute budget: its runs, the parabola and its minimum."""

    family: str
    budget: float
    budget_source: str
    runs: list[dict[str, Any]]
    """[{path, params, loss}], in order of params."""
    coeffs: list[float] | None = None
    n_opt: float | None = None
    n_opt_ci: list[float] | None = None
    loss_opt: float | None = None
    loss_opt_ci: list[float] | None = None
    refusal: str | None = None
    note: str | None = None
    draws: np.ndarray | None = field(default=None, repr=False)
    """(resamples, 2): log10 N_opt and L_opt of each bootstrap draw (NaN: no minimum)."""

    @property
    def sizes(self) -> list[float]:
        return sorted({r["params"] for r in self.runs})

    @property
    def used(self) -> bool:
        return self.n_opt is not None and self.refusal is None

    @property
    def label(self) -> str:
        return f"{self.family} at C={budget_text(self.budget)}"


@dataclass
class FamilyLaw:
    """Power laws N_opt = 10^k C^a and L_opt = 10^k' C^b of one family, over its usable budgets."""

    family: str
    budgets: list[float]
    n_opt_law: dict[str, Any] | None = None
    loss_law: dict[str, Any] | None = None
    resamples_used: int = 0
    refusal: str | None = None


def budget_text(value: float) -> str:
    """1e13, 3.2e12: a FLOP budget as it is written in a config."""
    return f"{value:.3g}".replace("e+", "e")


def budget_of(run: Run) -> tuple[float, str] | None:
    """(C, where it came from): trainer.flops_budget, else the FLOPs trained to 2 significant digits."""
    set_budget = run.config.get("trainer.flops_budget")
    if isinstance(set_budget, int | float) and not isinstance(set_budget, bool) and set_budget > 0:
        return float(set_budget), "trainer.flops_budget"
    flops = run.summary.get("flops")
    if isinstance(flops, int | float) and not isinstance(flops, bool) and flops > 0:
        return float(f"{flops:.2g}"), "flops"
    return None


def group_runs(runs: list[Run], metric: str) -> tuple[list[BudgetFit], list[str]]:
    """One BudgetFit (unfitted) per (family, budget), and a line per kind of run left out."""
    spec = METRICS[metric]
    groups: dict[tuple[str, float], BudgetFit] = {}
    missing: dict[str, list[str]] = {}
    for run in runs:
        params, loss, budget = run.summary.get("params"), final_value(run, spec), budget_of(run)
        lack = [what for what, ok in (("params", isinstance(params, int | float) and params > 0),
                                      (f"a final {spec.key}", loss is not None),
                                      ("trainer.flops_budget or flops", budget is not None)) if not ok]
        if lack:
            missing.setdefault(" or ".join(lack), []).append(run.path.name)
            continue
        family = str(value_of(run, "model"))
        fit = groups.setdefault((family, budget[0]), BudgetFit(family, budget[0], budget[1], []))
        fit.runs.append({"path": str(run.path), "params": float(params), "loss": float(loss)})
    lines = [f"{len(names)} run(s) without {what} left out: {', '.join(names[:5])}{' ...' if len(names) > 5 else ''}"
             for what, names in missing.items()]
    fits = [groups[key] for key in sorted(groups)]
    for fit in fits:
        fit.runs.sort(key=lambda r: (r["params"], r["path"]))
    return fits, lines


def parabolas(u: np.ndarray, loss: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted least-squares parabolas L = c2 u^2 + c1 u + c0, one per row of `weights`.

    u, loss: (n,); weights: (draws, n) counts of each run (all ones: the plain fit).
    Returns (draws, 3) [c2, c1, c0]; each row needs >= 3 distinct u with weight > 0 (a row of
    zeros, a draw given up on, gives NaN)."""
    design = np.stack([u * u, u, np.ones_like(u)], axis=1)  # (n, 3)
    gram = np.einsum("rn,ni,nj->rij", weights, design, design)  # (draws, 3, 3)
    moment = np.einsum("rn,ni,n->ri", weights, design, loss)  # (draws, 3)
    empty = weights.sum(axis=1) == 0
    gram[empty] = np.eye(3)  # solvable; its answer is replaced below
    coeffs = np.linalg.solve(gram, moment[..., None])[..., 0]
    coeffs[empty] = np.nan
    return coeffs


def minima(coeffs: np.ndarray, center: float) -> np.ndarray:
    """(draws, 2): log10 N_opt and L_opt of each parabola in u = log10 N - center; NaN where it
    does not open upward (no minimum)."""
    c2, c1, c0 = coeffs[:, 0], coeffs[:, 1], coeffs[:, 2]
    up = c2 > 0
    safe = np.where(up, c2, 1.0)
    at = np.where(up, -c1 / (2 * safe) + center, np.nan)
    low = np.where(up, c0 - c1 * c1 / (4 * safe), np.nan)
    return np.stack([at, low], axis=1)


def uncentered(coeffs: np.ndarray, center: float) -> list[float]:
    """[c2, c1, c0] in u - center -> the same parabola's coefficients in u."""
    c2, c1, c0 = (float(c) for c in coeffs)
    return [c2, c1 - 2 * c2 * center, c0 - c1 * center + c2 * center * center]


def resample_counts(sizes: np.ndarray, draws: int, rng: np.random.Generator) -> np.ndarray:
    """(draws, n) counts of each run in bootstrap draws of n runs with replacement; a draw of
    fewer than MIN_SIZES distinct sizes is drawn again (all zeros when it keeps failing)."""
    n = len(sizes)
    onehot = (sizes[:, None] == np.unique(sizes)[None, :]).astype(float)  # (n, distinct sizes)
    counts = rng.multinomial(n, np.full(n, 1.0 / n), size=draws).astype(float)
    for _ in range(100):
        short = ((counts @ onehot) > 0).sum(axis=1) < MIN_SIZES
        if not short.any():
            break
        counts[short] = rng.multinomial(n, np.full(n, 1.0 / n), size=int(short.sum()))
    else:
        counts[((counts @ onehot) > 0).sum(axis=1) < MIN_SIZES] = 0.0
    return counts


def interval(values: np.ndarray) -> list[float] | None:
    """The central CONFIDENCE percentile interval of the finite values, or None when none is."""
    finite = values[np.isfinite(values)]
    if not len(finite):
        return None
    tail = 50 * (1 - CONFIDENCE)
    return [float(v) for v in np.percentile(finite, [tail, 100 - tail])]


def fit_budget(fit: BudgetFit, resamples: int, rng: np.random.Generator) -> None:
    """The parabola, its minimum and the bootstrap intervals; or the one line that refuses it."""
    sizes = np.array([r["params"] for r in fit.runs])
    loss = np.array([r["loss"] for r in fit.runs])
    distinct = len(np.unique(sizes))
    if distinct < MIN_SIZES:
        fit.refusal = f"{fit.label}: {distinct} size(s), {MIN_SIZES} needed for a parabola{LEFT_OUT}"
        return
    u = np.log10(sizes)
    center = float(u.mean())  # fitting in u - center keeps the normal equations well conditioned
    coeffs = parabolas(u - center, loss, np.ones((1, len(u))))[0]
    fit.coeffs = uncentered(coeffs, center)
    if coeffs[0] <= 0:
        fit.refusal = (f"{fit.label}: the parabola opens downward (curvature {coeffs[0]:.3g} per decade^2), it "
                       f"has no minimum{LEFT_OUT}")
        return
    log_n, loss_opt = minima(coeffs[None], center)[0]
    if not u.min() < log_n < u.max():
        side = "above the largest" if log_n >= u.max() else "below the smallest"
        fit.refusal = (f"{fit.label}: the minimum (N={plain_number(10 ** log_n)}) lies at or {side} size run "
                       f"({plain_number(sizes.min())}-{plain_number(sizes.max())}), extend the ladder{LEFT_OUT}")
        return
    fit.n_opt, fit.loss_opt = float(10 ** log_n), float(loss_opt)
    fit.draws = minima(parabolas(u - center, loss, resample_counts(sizes, resamples, rng)), center)
    low_high = interval(fit.draws[:, 0])
    fit.n_opt_ci = None if low_high is None else [10 ** v for v in low_high]
    fit.loss_opt_ci = interval(fit.draws[:, 1])
    if len(sizes) == MIN_SIZES:
        fit.note = f"{MIN_SIZES} runs: the parabola passes through each, the interval shows no spread"


def _slopes(x: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares lines y = slope x + intercept for each row of ys (draws, budgets)."""
    dx = x - x.mean()
    slope = (ys - ys.mean(axis=1, keepdims=True)) @ dx / (dx @ dx)
    return slope, ys.mean(axis=1) - slope * x.mean()


def fit_family(family: str, fits: list[BudgetFit]) -> FamilyLaw:
    """log10 N_opt and log10 L_opt against log10 C over the family's usable budgets."""
    used = [f for f in fits if f.used]
    law = FamilyLaw(family, [f.budget for f in used])
    if len(used) < 2:
        law.refusal = f"{family}: {len(used)} usable budget(s), 2 needed: no power law"
        return law
    log_c = np.log10([f.budget for f in used])
    point = np.array([[math.log10(f.n_opt), f.loss_opt] for f in used])  # (budgets, 2)
    draws = np.stack([f.draws for f in used], axis=1)  # (resamples, budgets, 2)
    keep = np.isfinite(draws).all(axis=(1, 2)) & (draws[..., 1] > 0).all(axis=1)
    law.resamples_used = int(keep.sum())
    a, k = _slopes(log_c, point[None, :, 0])
    a_draws, _ = _slopes(log_c, draws[keep, :, 0])
    law.n_opt_law = {"a": float(a[0]), "k": float(k[0]), "a_ci": interval(a_draws)}
    if (point[:, 1] <= 0).any():
        law.refusal = f"{family}: L_opt <= 0 at some budget, no power law for L_opt"
        return law
    b, k_loss = _slopes(log_c, np.log10(point[None, :, 1]))
    b_draws, _ = _slopes(log_c, np.log10(draws[keep, :, 1]))
    law.loss_law = {"b": float(b[0]), "k": float(k_loss[0]), "b_ci": interval(b_draws)}
    return law


def fit_all(runs: list[Run], metric: str, resamples: int, seed: int) -> dict[str, Any]:
    """Every budget's parabola and every family's power laws: scaling.json's content."""
    fits, problems = group_runs(runs, metric)
    rng = np.random.default_rng(seed)
    for fit in fits:
        fit_budget(fit, resamples, rng)
    families = [fit_family(name, [f for f in fits if f.family == name])
                for name in dict.fromkeys(f.family for f in fits)]
    problems += [f.refusal for f in fits if f.refusal]
    if not any(f.used for f in fits):
        raise SeqlabError("nothing to fit: no (family, budget) has a usable parabola; "
                          + "; ".join(problems[:4]) + (f"; and {len(problems) - 4} more" if len(problems) > 4 else ""))
    problems += [law.refusal for law in families if law.refusal]
    return {
        "metric": metric, "metric_key": METRICS[metric].key, "resamples": resamples, "seed": seed,
        "confidence": CONFIDENCE,
        "budgets": [{"family": f.family, "budget": f.budget, "budget_source": f.budget_source, "runs": f.runs,
                     "sizes": f.sizes, "coeffs": f.coeffs, "n_opt": f.n_opt, "n_opt_ci": f.n_opt_ci,
                     "loss_opt": f.loss_opt, "loss_opt_ci": f.loss_opt_ci, "used": f.used,
                     "refusal": f.refusal, "note": f.note} for f in fits],
        "families": [{"family": law.family, "budgets": law.budgets, "n_opt_law": law.n_opt_law,
                      "loss_law": law.loss_law, "resamples_used": law.resamples_used, "refusal": law.refusal}
                     for law in families],
        "problems": problems,
    }


# --- the command: read the runs, fit, print, write -----------------------------------------------

def _default_out() -> Path:
    """A new outputs/scaling/<date>/<time>, as `seqlab compare` picks outputs/compare/...: never
    a folder being read."""
    now = datetime.now()
    return (Path(os.environ.get("SEQLAB_OUTPUTS", "outputs")) / "scaling" / now.strftime("%Y-%m-%d")
            / now.strftime("%H-%M-%S"))


def runs_to_fit(paths: list[str], metric: str) -> tuple[list[Run], str]:
    """The runs under `paths`, found and said as `seqlab compare` does, and the loss to fit them by."""
    from rich.console import Console

    from seqlab.analysis.compare import load_runs

    if metric not in FITTABLE:
        raise SeqlabError(f"--metric must be a loss whose minimum the fit finds: {', '.join(FITTABLE)}; got '{metric}'")
    if not paths:
        raise SeqlabError("name at least one run folder, sweep folder or glob")
    runs, metric, _ = load_runs(paths, metric, Console(stderr=True, soft_wrap=True))
    return runs, metric


def scaling_command(paths: list[str], metric: str, out: Path | None, resamples: int, seed: int) -> Path:
    """Fit, print the tables and the refusals, write scaling.json and both figures; returns the folder."""
    from seqlab.analysis.scaling_plot import plot_isoflop, plot_laws

    if resamples < 100:
        raise SeqlabError(f"--resamples must be at least 100 for a {CONFIDENCE:.0%} percentile interval; got {resamples}")
    runs, metric = runs_to_fit(paths, metric)
    result = fit_all(runs, metric, resamples, seed)
    for line in result["problems"]:
        warn(line)
    print_tables(result)
    out = Path(out) if out else _default_out()
    out.mkdir(parents=True, exist_ok=True)
    (out / FILES[0]).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    plot_isoflop(result, out / FILES[1])
    plot_laws(result, out / FILES[2])
    print(f"wrote {', '.join(FILES)} to {out}")
    return out


def _n(value: float | None) -> str:
    return "-" if value is None else plain_number(value)


def _with_ci(value: float | None, ci: list[float] | None, fmt: Any) -> str:
    if value is None:
        return "-"
    return fmt(value) + ("" if ci is None else f" [{fmt(ci[0])}, {fmt(ci[1])}]")


def _reason(refusal: str) -> str:
    """'gru at C=1e16: 2 size(s), ...; left out' -> 'left out: 2 size(s), ...' (the table's note)."""
    return "left out: " + refusal.split(": ", 1)[1].removesuffix(LEFT_OUT)


def print_tables(result: dict[str, Any]) -> None:
    """The budgets' table (family, C, sizes, N_opt, L_opt), then the families' exponents."""
    from rich.console import Console
    from rich.table import Table

    percent = f"{CONFIDENCE:.0%}"
    per_budget = Table(title=f"IsoFLOP parabolas of final {result['metric']} in log10 N; minima with "
                             f"{percent} bootstrap intervals ({result['resamples']} draws)", title_justify="left")
    for name in ("family", "budget C", "runs", "sizes N", f"N_opt [{percent}]", f"L_opt [{percent}]", "note"):
        per_budget.add_column(name, justify="left" if name in ("family", "note") else "right", overflow="fold")
    for b in result["budgets"]:
        sizes = b["sizes"]
        per_budget.add_row(b["family"], budget_text(b["budget"]), str(len(b["runs"])),
                           f"{len(sizes)} ({_n(sizes[0])}-{_n(sizes[-1])})",
                           _with_ci(b["n_opt"], b["n_opt_ci"], _n),
                           _with_ci(b["loss_opt"], b["loss_opt_ci"], lambda v: f"{v:.4f}"),
                           _reason(b["refusal"]) if b["refusal"] else b["note"] or "")
    laws = Table(title=f"power laws per family: N_opt ~ C^a, L_opt ~ C^b ({percent} bootstrap intervals)",
                 title_justify="left")
    for name in ("family", "budgets used", f"a [{percent}]", f"b [{percent}]", "note"):
        laws.add_column(name, justify="left" if name in ("family", "note") else "right", overflow="fold")
    for f in result["families"]:
        a, b = f["n_opt_law"] or {}, f["loss_law"] or {}
        laws.add_row(f["family"], str(len(f["budgets"])), _with_ci(a.get("a"), a.get("a_ci"), lambda v: f"{v:.3f}"),
                     _with_ci(b.get("b"), b.get("b_ci"), lambda v: f"{v:.4f}"),
                     f["refusal"].split(": ", 1)[1] if f["refusal"] else
                     f"{f['resamples_used']} of {result['resamples']} draws with every minimum")
    console = Console()
    console.print(per_budget)
    console.print(laws)
