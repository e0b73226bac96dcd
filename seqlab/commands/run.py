"""Commands that train: train, resume, reproduce.

Each function is one `seqlab` command, registered on the app in seqlab/cli.py. Heavy
imports happen inside the functions so that `seqlab --help` answers at once.
"""

from __future__ import annotations

from pathlib import Path

import typer

from seqlab.errors import SeqlabError


def train(
    overrides: list[str] | None = typer.Argument(
        None, metavar="[OVERRIDES]...",
        help="Hydra overrides: model=gru task=tinystories trainer.max_steps=2000 model.hidden_size=512 device=cpu",
    ),
    multirun: bool = typer.Option(False, "--multirun", "-m",
                                  help="Run a sweep through Hydra: comma-separated values expand into runs."),
    cfg: bool = typer.Option(False, "--cfg", help="Print the composed config and exit."),
    config_dir: Path | None = typer.Option(
        None, "--config-dir", help="A config dir of your own, searched before seqlab's (also: SEQLAB_CONFIG_DIR)."),
    help_config: bool = typer.Option(
        False, "--help-config",
        help="Print every config key (type, default, what it does) and exit; name a GROUP (model, task, "
             "trainer, logger, top) for one: --help-config model model=lstm."),
) -> None:
    """Train a model on a task; writes a run folder under outputs/.

    Example: [bold]seqlab train model=gru task=tinystories trainer.max_steps=2000[/]

    Sweep:   [bold]seqlab train -m model.hidden_size=128,256[/]

    Every key: [bold]seqlab train --help-config trainer[/]
    """
    if help_config:  # GROUP words stand among the overrides: `--help-config model model=lstm`
        from seqlab.config.help import print_config_help
        from seqlab.config.paths import user_config_dirs

        words = list(overrides or [])
        groups = [w for w in words if "=" not in w and not w.startswith("-")]
        print_config_help([w for w in words if w not in groups], groups, user_config_dirs(config_dir))
        return
    from seqlab.launch.command import run_train

    run_train(list(overrides or []), multirun=multirun, print_cfg=cfg, extra_config_dir=config_dir)


def resume(
    run: Path = typer.Argument(..., help="The run folder to continue (it keeps writing there)."),
    overrides: list[str] | None = typer.Argument(
        None, metavar="[OVERRIDES]...", help="Changes for the rest of the run, e.g. trainer.max_steps=4000."),
) -> None:
    """Continue a stopped run where it stopped: weights, optimiser, RNG streams, data position.

    One process writes a run at a time: a run another process is writing is refused (exit 2).
    A completed run is left as it is (exit 0); raise trainer.max_steps to train it further.

    Example: [bold]seqlab resume outputs/2026-11-26/12-00-00_gru_tinystories trainer.max_steps=4000[/]
    """
    from seqlab.launch.command import run_resume

    run_resume(run, list(overrides or []))


def reproduce(
    experiments: list[str] | None = typer.Argument(None, help="Experiments of conf/experiment/ (default: all)."),
    jobs: int = typer.Option(2, "--jobs", "-j", help="Runs side by side, one torch thread each."),
    out: Path = typer.Option(Path("outputs/reproduce"), "--out", help="Where the run folders go."),
    readme: Path | None = typer.Option(None, "--readme", help="Write the results table into this file's "
                                       "<!-- reproduce:start/end --> markers."),
) -> None:
    """Run the seed's experiments (what is missing of them) and print the results table.

    Example: [bold]seqlab reproduce --jobs 2 --readme docs/results.md[/]
    """
    from seqlab.analysis.results import markdown, results, update_readme
    from seqlab.reproduce import experiment_names, last_invocation
    from seqlab.reproduce import reproduce as run_all

    if jobs < 1:
        raise SeqlabError(f"--jobs must be at least 1, got {jobs}")
    names = experiments or experiment_names()
    run_all(names, out, jobs)
    rows = [r for r in results(out) if r["experiment"] in names]
    table = markdown(rows, last_invocation(out))
    typer.echo(table)
    if readme is not None:
        update_readme(readme, table)
        typer.echo(f"results written into {readme}", err=True)
