"""`seqlab search`: a hyperparameter search that can be stopped and continued, and prunes bad trials.

Registered on the app in seqlab/cli.py; the work is in seqlab/search/. Heavy imports (hydra,
optuna) happen inside the function so that `seqlab --help` answers at once.
"""

from __future__ import annotations

from pathlib import Path

import typer


def search(
    overrides: list[str] | None = typer.Argument(
        None, metavar="[OVERRIDES]...",
        help="Hydra overrides, ranges among them in Optuna sweeper syntax: +search=copy_lr "
             "'trainer.lr=tag(log, interval(1e-4, 1e-2))' 'model.n_embd=choice(16,32)' trainer.max_steps=200"),
    study: Path = typer.Option(..., "--study", "-s",
                               help="The study folder: made on the first run; the same command again continues it."),
    trials: int | None = typer.Option(
        None, "--trials", "-n", help="Trials to finish (completed or pruned; failed ones are replaced). "
                                     "Default: hydra.sweeper.n_trials of a search config."),
    jobs: int = typer.Option(1, "--jobs", "-j", help="Trials side by side, each its own process with one torch thread."),
    metric: str | None = typer.Option(
        None, "--metric", help="The validation metric a trial scores (its final value) and is pruned by: val_loss, "
                               "val_acc, val_seq_acc, val_bpc ... Default: a search config's objective, else val_loss."),
    direction: str | None = typer.Option(
        None, "--direction", help="minimize or maximize; default: from the metric's name (losses down, accuracies up)."),
    pruner: str = typer.Option("median", "--pruner", help="median (stop a trial whose metric is worse than the "
                               "median of completed trials at the same step) or none."),
    startup_trials: int = typer.Option(3, "--startup-trials", help="Completed trials before any trial is pruned."),
    warmup_steps: int = typer.Option(0, "--warmup-steps", help="Steps a trial trains before it may be pruned."),
) -> None:
    """Search hyperparameters: trials side by side, bad ones pruned, the study continued after a stop.

    Every trial is a run folder in the study folder (`seqlab compare STUDY` reads them). Stopped
    (Ctrl-C) or killed, the same command continues the study: finished trials are kept, interrupted
    ones continue from their checkpoints. At the end: the best trial and its parameters (best.json),
    the pruned count and the compute pruning saved.

    Example: [bold]seqlab search --study outputs/search/copy_lr --trials 12 --jobs 2 +search=copy_lr[/]
    """
    from seqlab.search.outcome import outcome_lines, study_outcome, write_outcome
    from seqlab.search.prepare import SearchOptions, open_study, plan_study
    from seqlab.search.runner import Runner

    options = SearchOptions(trials, jobs, metric, direction, pruner, startup_trials, warmup_steps)
    settings, space, cfg, total = plan_study(list(overrides or []), options)
    opened, lock = open_study(study, settings, space, cfg)
    try:
        typer.echo(_opening_line(opened, total, jobs))
        signum = Runner(opened, total, jobs, say=lambda line: typer.echo(line)).run()
        report = study_outcome(opened.folder, settings, opened.trials())
        if signum is None:
            for line in outcome_lines(report):
                typer.echo(line)
            typer.echo(f"written: {write_outcome(opened.folder, report)}")
    finally:
        lock.release()
    if signum is not None:
        import signal

        typer.echo(f"stopped by {signal.Signals(signum).name}: {report['trials']['complete'] + report['trials']['pruned']} "
                   f"of {total} trials finished; the same command continues the study", err=True)
        raise typer.Exit(128 + signum)


def _opening_line(study, total: int, jobs: int) -> str:
    """What the study holds as it starts (or continues)."""
    trials = study.trials().values()
    counted = sum(t.state in ("complete", "pruned") for t in trials)
    if not trials:
        return f"study {study.folder}: {total} trials, {jobs} at a time, {study.settings.metric} ({study.settings.direction})"
    unfinished = sum(t.state is None for t in trials)
    return (f"study {study.folder} continues: {counted} of {total} trials finished, "
            f"{unfinished} interrupted (each continues from its last checkpoint, if it has one)")
