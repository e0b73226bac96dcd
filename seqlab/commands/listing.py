"""Commands that list what can be run: models, tasks, experiments.

Each function is one `seqlab` command, registered on the app in seqlab/cli.py. Heavy
imports happen inside the functions so that `seqlab --help` answers at once.
"""

from __future__ import annotations

import typer


def models() -> None:
    """List the models in the registry and the presets in conf/model/ (use as model=NAME).

    Example: [bold]seqlab models[/]
    """
    from seqlab.registry import MODELS

    for name, spec in sorted(MODELS.items()):
        typer.echo(f"{name:<22}{spec.summary}")
    for preset, family in model_presets():
        if preset not in MODELS:
            typer.echo(f"{preset:<22}preset of {family} (conf/model/{preset}.yaml)")


def tasks() -> None:
    """List the tasks in the registry.

    Example: [bold]seqlab tasks[/]
    """
    from seqlab.registry import TASKS

    for name, spec in sorted(TASKS.items()):
        typer.echo(f"{name:<22}[{spec.kind}] {spec.summary}")


def experiments() -> None:
    """List the experiments in conf/experiment/ (and your config dirs), one line each.

    Run one with [bold]seqlab train -m +experiment=NAME[/]

    Example: [bold]seqlab experiments[/]
    """
    from seqlab.config.experiments import experiment_summaries

    for name, summary in experiment_summaries():
        typer.echo(f"{name:<24}{summary}")


def model_presets() -> list[tuple[str, str]]:
    """(preset, family) for every conf/model/*.yaml, read without composing."""
    import yaml

    from seqlab.config.paths import config_dir
    from seqlab.registry import MODELS

    found = []
    for path in sorted((config_dir() / "model").glob("*.yaml")):
        data = yaml.safe_load(path.read_text()) or {}
        family = data.get("name") or next(
            (d for d in data.get("defaults", []) if isinstance(d, str) and d in MODELS), path.stem)
        found.append((path.stem, family))
    return found
