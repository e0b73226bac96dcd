"""`seqlab flops`: render FLOP reports as a rich table, JSON or markdown, and plot scaling in T."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from seqlab.errors import SeqlabError, warn
from seqlab.flops import CONVENTIONS, FlopReport, Row, flop_families, flops_report
from seqlab.plots import plain_log_ticks

FORMATS = ("table", "json", "markdown")
HEADERS = ["component", "params", "forward", "backward", "training", "generate", "seq f/t/g", "measured fwd (Δ)"]


def si(x: float | None) -> str:
    """4 significant digits with an SI suffix: 44.44M."""
    if x is None:
        return ""
    for div, suffix in ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= div:
            return f"{x / div:.4g}{suffix}"
    return f"{x:.4g}"


def diff(measured: int | None, analytic: int) -> str:
    """% difference of the counter from the analytic count."""
    if measured is None:
        return ""
    if analytic == 0:
        return "—" if measured == 0 else "n/a"
    return f"{100 * (measured - analytic) / analytic:+.2f}%"


def measured(m: int | None, analytic: int) -> str:
    return "" if m is None else si(m) if m == analytic == 0 else f"{si(m)} ({diff(m, analytic)})"


def cells(row: Row) -> list[str]:
    seq = "" if not row.in_total else f"{row.seq_forward} / {row.seq_training} / {row.seq_generate}"
    return [row.component, si(row.params) if row.in_total else "", si(row.forward), si(row.backward),
            si(row.training), si(row.generate), seq, measured(row.measured_forward, row.forward)]


def measured_line(r: FlopReport) -> str | None:
    """The whole model under the counter: forward and forward + backward, against the analytic totals."""
    if not r.measured:
        return None
    t = r.total
    return (f"measured ({r.measured['measured']}): forward {measured(r.measured['forward'], t.forward)}, "
            f"training {measured(r.measured['training'], t.training)}")


def title(r: FlopReport) -> str:
    dims = ", ".join(f"{k} {v}" for k, v in r.dims.items())
    lengths = f"T = {r.seq_len}" if r.target_len is None else f"S = {r.seq_len} · T = {r.target_len}"
    return f"{r.model} ({dims}) · {lengths} · B = {r.batch} · vocab {r.vocab_size}"


def ordered_rows(r: FlopReport) -> list[Row]:
    """The components, their total, then rows shown for comparison only (not part of the total)."""
    return [*[x for x in r.rows if x.in_total], r.total, *[x for x in r.rows if not x.in_total]]


# Column groups by terminal width: everything on one table, or three tables that fit 80 columns.
LAYOUTS = ((118, [list(range(len(HEADERS)))]), (0, [[0, 1, 2, 3], [0, 4, 5], [0, 6, 7]]))


def _table(r: FlopReport, cols: list[int], title_text: str | None) -> Any:
    from rich.table import Table

    table = Table(title=title_text, title_justify="left")
    for i in cols:
        table.add_column(HEADERS[i], justify="left" if i == 0 else "right", no_wrap=i > 0)
    for row in ordered_rows(r):
        texts = cells(row)
        style = "bold" if row.key == "total" else None if row.in_total else "dim italic"
        table.add_row(*[texts[i] for i in cols], style=style)
    return table


def print_table(reports: list[FlopReport]) -> None:
    from rich.console import Console

    console = Console()
    for r in reports:
        groups = next(g for width, g in LAYOUTS if console.width >= width)
        for i, cols in enumerate(groups):
            console.print(_table(r, cols, title(r) if i == 0 else None))
        for line in [x for x in [measured_line(r), *r.formulas] if x]:
            console.print(f"  • {line}", highlight=False)
        for line in r.notes:
            console.print(f"  [yellow]note:[/] {line}", highlight=False)
    console.print("[bold]conventions:[/] " + "; ".join(CONVENTIONS) + ".", highlight=False)


def to_markdown(reports: list[FlopReport]) -> str:
    out = []
    for r in reports:
        out += [f"### {title(r)}", "", "| " + " | ".join(HEADERS) + " |",
                "|" + "---|" + "---:|" * (len(HEADERS) - 1)]
        out += ["| **" + "** | **".join(cells(row)) + "** |" if row is r.total else "| " + " | ".join(cells(row)) + " |"
                for row in ordered_rows(r)]
        out += [""]
        out += [f"- {line}" for line in [measured_line(r), *r.formulas] if line] + [f"- note: {line}" for line in r.notes] + [""]
    out += ["Conventions:", ""] + [f"- {c}" for c in CONVENTIONS]
    return "\n".join(out) + "\n"


def family_config(name: str, width: int, depth: int) -> Any:
    """Family `name` at width D and depth L, as its FLOP model declares (defaults elsewhere)."""
    from omegaconf import OmegaConf

    from seqlab.registry import model_spec

    spec = model_spec(name)
    fm = spec.flops
    cfg = OmegaConf.structured(spec.config)
    return OmegaConf.merge(cfg, {**{f: width for f in fm.width_fields}, fm.depth_field: depth, **dict(fm.overrides)})


def plot_scaling(width: int, layers: int, vocab_size: int, path: Path, t_max: int = 10_000) -> None:
    """Log-log: training FLOPs per sequence and sequential matmuls vs T, every family with a FLOP
    model that reads one sequence, at width D and depth L."""
    import numpy as np

    from seqlab.plots import new_figure, save_figure

    ts = sorted({int(t) for t in np.logspace(0, np.log10(t_max), 40)})
    fig, ((ax_f, ax_s),) = new_figure(1, 2, (11, 4.4))
    seq_curves: dict[tuple[int, ...], list[str]] = {}  # families sharing a critical path share a line
    drawn: dict[tuple[int, ...], str] = {}  # a curve already drawn -> its label
    for i, name in enumerate(n for n in flop_families() if not flops_spec(n).pairs):
        fm = family_config(name, width, layers)
        totals = [flops_report(fm, vocab_size, t).total for t in ts]
        lines = [("training", "-", [x.training for x in totals])]
        if flops_spec(name).plot_generate:
            lines.append(("generate", "--", [x.generate for x in totals]))
        for what, style, ys in lines:
            _plot_distinct(ax_f, ts, ys, f"{name} {what}", dict(color=f"C{i}", ls=style), drawn, i)
        seq_curves.setdefault(tuple(x.seq_training for x in totals), []).append(name)
    for i, (curve, names) in enumerate(seq_curves.items()):
        ax_s.plot(ts, curve, color=f"C{i}", label=f"{' / '.join(names)} training")
    ax_f.set_title(f"training FLOPs per sequence (D = {width}, L = {layers}, V = {vocab_size})\n"
                   "RNNs O(T·D²), transformer O(T·D² + T²·D)", fontsize=9)
    ax_s.set_title("sequential matmuls (critical path)\nRNNs O(T) to train, transformer O(1) in T", fontsize=9)
    for ax in (ax_f, ax_s):
        ax.set_xscale("log")
        ax.set_yscale("log")
        plain_log_ticks(ax)
        ax.set_xlabel("sequence length T")
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=7)
    ax_f.set_ylabel("FLOPs")
    ax_s.set_ylabel("matmuls in sequence")
    save_figure(fig, path)


MARKERS = "osD^vP*X"


def _plot_distinct(ax: Any, xs: list[int], ys: list[float], label: str, style: dict[str, Any],
                   drawn: dict[tuple, str], i: int) -> None:
    """Draw one curve; one identical to a curve already drawn would hide under it (the
    transformer's and the encoder's FLOPs coincide): it is dotted, with markers at other
    places, and its label names the curve it equals."""
    same = drawn.get(tuple(ys))
    if same is not None:
        style = {**style, "ls": ":", "lw": 2.2}
        label += f" (= {same})"
    else:
        drawn[tuple(ys)] = label
    ax.plot(xs, ys, label=label, marker=MARKERS[i % len(MARKERS)], ms=3.5, markevery=(i % 5, 5), **style)


def flops_spec(name: str) -> Any:
    from seqlab.registry import model_spec

    return model_spec(name).flops


def flops_command(overrides: list[str], seq_lens: list[int] | None, batch: int, fmt: str,
                  plot: Path | None, measure: bool, vocab_size: int | None = None,
                  target_len: int | None = None) -> None:
    """Compose the config, build one report per T, print it in `fmt`, optionally plot."""
    if fmt not in FORMATS:
        raise SeqlabError(f"--format must be one of {', '.join(FORMATS)}, got '{fmt}'")
    if batch < 1 or (vocab_size is not None and vocab_size < 1):
        raise SeqlabError(f"--batch and --vocab-size must be positive, got {batch} and {vocab_size}")
    from seqlab.config.compose import compose
    from seqlab.config.paths import user_config_dirs
    from seqlab.config.shape import config_vocab_size
    from seqlab.flops.measure import measure_report
    from seqlab.registry import check_serves, model_spec

    cfg = compose(overrides, user_config_dirs())
    model, spec = cfg.model, model_spec(cfg.model.name)
    if spec.flops is None:
        raise SeqlabError(f"model '{model.name}' declares no FLOP model (families with one: "
                          f"{', '.join(flop_families())})")
    vocab_size = config_vocab_size(cfg.task) if vocab_size is None else vocab_size
    if not seq_lens:
        try:
            check_serves(model.name, cfg.task.name)
        except SeqlabError as e:  # the task only lends its lengths: say they are not the model's own
            warn(f"{e}; its lengths are used as they are (--seq-len sets them)")
    if seq_lens:
        ts = list(dict.fromkeys(seq_lens))
    else:  # the task's own lengths; an explicit --target-len still wins
        ts, task_target = default_lengths(cfg, spec.bounded_context)
        target_len = task_target if target_len is None else target_len
    if min(ts) < 1:
        raise SeqlabError(f"--seq-len must be positive, got {min(ts)}")
    if target_len is not None and not spec.flops.pairs:
        raise SeqlabError(f"--target-len is for encoder-decoders; model '{model.name}' reads one sequence")
    if target_len is not None and target_len < 1:
        raise SeqlabError(f"--target-len must be positive, got {target_len}")
    reports = []
    for t in ts:
        report = flops_report(model, vocab_size, t, batch, target_len=target_len)
        if measure and spec.bounded_context and max(t, target_len or 0) > model.block_size:
            report.notes.append("not measured: longer than block_size (" + (
                "the model refuses the pair)" if spec.flops.pairs else "the model would re-prefill)"))
        elif measure:
            measure_report(report, model)
        reports.append(report)
    lengths = lengths_line(cfg, ts, target_len, given=bool(seq_lens))
    if fmt == "json":
        print(json.dumps({"model": model.name, "vocab_size": vocab_size, "batch": batch, "lengths": lengths,
                          "reports": [r.to_dict() for r in reports]}, indent=2, ensure_ascii=False))
    elif fmt == "markdown":
        print(f"lengths: {lengths}\n\n{to_markdown(reports)}", end="")
    else:
        print(f"lengths: {lengths}")
        print_table(reports)
    if plot is not None:
        fm = spec.flops
        plot_scaling(model[fm.width_fields[-1]], model[fm.depth_field], vocab_size, Path(plot))
        if fmt != "json":  # keep --format json's stdout pure JSON
            print(f"wrote {plot}")


def lengths_line(cfg: Any, ts: list[int], target_len: int | None, given: bool) -> str:
    """Which lengths the report counts and where they come from (its first line)."""
    from seqlab.registry import task_spec

    if given:
        if target_len is not None:
            return f"S = {', '.join(map(str, ts))}, T = {target_len} (from --seq-len and --target-len)"
        return f"T = {', '.join(map(str, ts))} (from --seq-len)"
    task, spec = cfg.task.name, task_spec(cfg.task.name)
    if target_len is not None:
        return (f"S = {ts[0]}, T = {target_len} (task {task}'s source and target lengths; "
                "--seq-len S and --target-len T set them)")
    why = (f"task.{spec.window_field}, the windows {task} runs train on" if spec.example_lengths is None
           else f"one example of task {task}, as the model reads it")
    line = f"T = {ts[0]} ({why})"
    if len(ts) > 1:
        line += f" and T = {ts[1]} (model.block_size, the model's context: the docs' T = {ts[1]} table)"
    return line + "; --seq-len sets T"


def default_lengths(cfg: Any, bounded_context: bool) -> tuple[list[int], int | None]:
    """The task's example, from its config: the window a model reads (for a bounded model also its
    full context, the seed's T = 100), or an encoder-decoder's source with the decoder's length."""
    from seqlab.config.shape import config_flop_lengths

    lengths = config_flop_lengths(cfg.model, cfg.task)
    if lengths is None:
        raise SeqlabError(f"task '{cfg.task.name}' has no fixed window; pass --seq-len")
    window, target = lengths
    ts = [int(window)]
    if bounded_context and target is None and cfg.model.block_size != window:
        ts.append(int(cfg.model.block_size))
    return ts, target
