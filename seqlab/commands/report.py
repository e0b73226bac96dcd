"""`seqlab report`: one self-contained HTML page about a set of runs (seqlab/analysis/report.py).

Registered on the app in seqlab/cli.py; the analysis is imported inside the function so that
`seqlab --help` answers at once.
"""

from __future__ import annotations

from pathlib import Path

import typer


def report(
    paths: list[str] = typer.Argument(
        ..., metavar="RUN_DIR... | SWEEP_DIR | GLOB",
        help="Run folders, any folder holding runs (a sweep, a date folder: searched all the way down) or a "
             "quoted glob, as for seqlab compare; also a folder seqlab scaling wrote (its fits are shown)."),
    out: Path | None = typer.Option(
        None, "--out", "-o",
        help="The HTML file to write (a folder or a name without a suffix: report.html in it; default: a new "
             "outputs/report/<date>/<time>/report.html; the folders read are never written to)."),
    metric: str = typer.Option(
        "val_loss", "--metric",
        help="What to plot and sort by: val_loss, train_loss, val_bpc, val_bpb, accuracy (val_acc) or val_seq_acc."),
    group: str | None = typer.Option(
        None, "--group",
        help="A config key, or model / task: a second table pooling each value's runs that differ only by "
             "seed: n, mean, std and a Student t 95% interval (n < 3 flagged)."),
) -> None:
    """One HTML page about a set of runs, readable offline: the runs' table, curves, config differences, samples.

    Also the machines the runs record, the grouped table with --group, and the scaling fits when a folder named holds seqlab scaling's files. Pictures are embedded; the page has no script and loads nothing.

    Example: [bold]seqlab report outputs/multirun/2026-11-26/14-00-00[/]

    Seeds pooled per model: [bold]seqlab report SWEEP --group model --out report.html[/]
    """
    from seqlab.analysis.report import report_command

    report_command(list(paths), metric, group, out)
