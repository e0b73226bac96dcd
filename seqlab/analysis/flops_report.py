"""`seqlab flops`: render FLOP reports as a rich table, JSON or markdown, and plot scaling in T."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from seqlab.analysis.flops import CONVENTIONS, GATES, FlopReport, Row, flops_report, measure_report
from seqlab.errors import SeqlabError

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
    return (f"measured ({r.measured['measured']} copy): forward {measured(r.measured['forward'], t.forward)}, "
            f"training {measured(r.measured['training'], t.training)}")


def title(r: FlopReport) -> str:
    dims = ", ".join(f"{k} {v}" for k, v in r.dims.items())
    return f"{r.model} ({dims}) · T = {r.seq_len} · B = {r.batch} · vocab {r.vocab_size}"


def _table(r: FlopReport, cols: list[int], title_text: str | None) -> Any:
    from rich.table import Table

    table = Table(title=title_text, title_justify="left")
    for i in cols:
        table.add_column(HEADERS[i], justify="left" if i == 0 else "right", no_wrap=i > 0)
    for row in [*r.rows, r.total]:
        texts = cells(row)
        style = "bold" if row.key == "total" else None if row.in_total else "dim italic"
        table.add_row(*[texts[i] for i in cols], style=style)
    return table


def print_table(reports: list[FlopReport]) -> None:
    from rich.console import Console

    console = Console()
    for r in reports:
        if console.width >= 118:
            console.print(_table(r, list(range(len(HEADERS))), title(r)))
        else:  # a narrow terminal: FLOPs first, then sequential matmuls and the measured check
            console.print(_table(r, [0, 1, 2, 3, 4, 5], title(r)))
            console.print(_table(r, [0, 6, 7], None))
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
        out += ["| " + " | ".join(cells(row)) + " |" for row in r.rows]
        out += ["| **" + "** | **".join(cells(r.total)) + "** |", ""]
        out += [f"- {line}" for line in [measured_line(r), *r.formulas] if line] + [f"- note: {line}" for line in r.notes] + [""]
    out += ["Conventions:", ""] + [f"- {c}" for c in CONVENTIONS]
    return "\n".join(out) + "\n"


def _family(name: str, D: int, L: int) -> Any:
    """A config of width D and depth L for `name` (embed = hidden for the recurrent ones)."""
    if name in GATES:
        return SimpleNamespace(name=name, embed_size=D, hidden_size=D, num_layers=L, bias=True)
    return SimpleNamespace(name=name, n_embd=D, n_layer=L, n_head=1, block_size=10**9, bias=True,
                           attn_bias=False, pos_encoding="none")


def plot_scaling(width: int, layers: int, vocab_size: int, path: Path, t_max: int = 10_000) -> None:
    """Log-log: training FLOPs per sequence and sequential matmuls vs T, four families, width D."""
    import matplotlib

    matplotlib.use("Agg")  # files only
    import matplotlib.pyplot as plt
    import numpy as np

    ts = sorted({int(t) for t in np.logspace(0, np.log10(t_max), 40)})
    fig, (ax_f, ax_s) = plt.subplots(1, 2, figsize=(11, 4.4), dpi=110)
    for name, color in (("rnn", "C0"), ("gru", "C1"), ("lstm", "C2"), ("transformer", "C3")):
        totals = [flops_report(_family(name, width, layers), vocab_size, t).total for t in ts]
        label = name.upper() if name in GATES else "transformer"
        ax_f.plot(ts, [x.training for x in totals], color=color, label=f"{label} training")
        if name in ("rnn", "transformer"):  # the three recurrent families share one critical path
            label = "RNN / GRU / LSTM" if name == "rnn" else label
            ax_s.plot(ts, [x.seq_training for x in totals], color=color, label=f"{label} training")
            ax_s.plot(ts, [x.seq_generate for x in totals], color=color, ls="--", label=f"{label} generate")
        if name == "transformer":
            ax_f.plot(ts, [x.generate for x in totals], color=color, ls="--", label="transformer generate (KV cache)")
    ax_f.set_title(f"training FLOPs per sequence (D = {width}, L = {layers}, V = {vocab_size})\n"
                   "RNNs O(T·D²), transformer O(T·D² + T²·D)", fontsize=9)
    ax_s.set_title("sequential matmuls (critical path)\nRNNs O(T) to train, transformer O(1) in T", fontsize=9)
    for ax in (ax_f, ax_s):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("sequence length T")
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=7)
    ax_f.set_ylabel("FLOPs")
    ax_s.set_ylabel("matmuls in sequence")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def _width(cfg: Any) -> tuple[int, int]:
    if cfg.name in GATES:
        return cfg.hidden_size, cfg.num_layers
    return cfg.n_embd, cfg.n_layer


def flops_command(overrides: list[str], seq_lens: list[int] | None, batch: int, fmt: str,
                  plot: Path | None, measure: bool, vocab_size: int = 86) -> None:
    """Compose the config, build one report per T, print it in `fmt`, optionally plot."""
    if fmt not in FORMATS:
        raise SeqlabError(f"--format must be one of {', '.join(FORMATS)}, got '{fmt}'")
    if batch < 1 or vocab_size < 1:
        raise SeqlabError(f"--batch and --vocab-size must be positive, got {batch} and {vocab_size}")
    from seqlab.config.paths import user_config_dirs
    from seqlab.engine.launch import compose

    cfg = compose(overrides, user_config_dirs())
    model = cfg.model
    if seq_lens:
        ts = list(dict.fromkeys(seq_lens))
    else:  # the training window; for a transformer also its full context (the seed's T = 100)
        window = cfg.task.get("seq_len") or cfg.task.get("length")  # char LM / synthetic tasks
        if not window:
            raise SeqlabError(f"task '{cfg.task.name}' has no seq_len; pass --seq-len")
        ts = [int(window)]
        if model.name == "transformer" and model.get("block_size", 0) != window:
            ts.append(model.block_size)
    if min(ts) < 1:
        raise SeqlabError(f"--seq-len must be positive, got {min(ts)}")
    reports = []
    for t in ts:
        report = flops_report(model, vocab_size, t, batch)
        if measure:
            if model.name == "transformer" and t > model.block_size:
                report.notes.append("not measured: T exceeds block_size (the model would re-prefill)")
            else:
                measure_report(report, model)
        reports.append(report)
    if fmt == "json":
        print(json.dumps({"model": model.name, "vocab_size": vocab_size, "batch": batch,
                          "reports": [r.to_dict() for r in reports]}, indent=2, ensure_ascii=False))
    elif fmt == "markdown":
        print(to_markdown(reports), end="")
    else:
        print_table(reports)
    if plot is not None:
        width, layers = _width(model)
        plot_scaling(width, layers, vocab_size, Path(plot))
        if fmt != "json":  # keep --format json's stdout pure JSON
            print(f"wrote {plot}")
