"""Commands that list the registry: models, tasks.

Each function is one `seqlab` command, registered on the app in seqlab/cli.py. Heavy
imports happen inside the functions so that `seqlab --help` answers at once.
"""

from __future__ import annotations

import typer


def models() -> None:
    """List the models in the registry and the presets in conf/model/ (use as model=NAME).

    Example: [bold]seqlab models[/]
    """
    from seqlab.registry import MODELS, model_presets

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
