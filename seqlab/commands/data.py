"""Commands that handle data: prepare.

Each function is one `seqlab` command, registered on the app in seqlab/cli.py. Heavy
imports happen inside the functions so that `seqlab --help` answers at once.
"""

from __future__ import annotations

from pathlib import Path

import typer

from seqlab.errors import SeqlabError


def prepare(
    overrides: list[str] | None = typer.Argument(
        None, metavar="[OVERRIDES]...",
        help="Hydra overrides naming the data: task=tinystories task.max_chars=null task.tokenizer=bpe",
    ),
    config_dir: Path | None = typer.Option(
        None, "--config-dir", help="A config dir of your own, searched before seqlab's (also: SEQLAB_CONFIG_DIR)."),
) -> None:
    """Prepare a task's token files in the cache without training; later runs find them.

    Example: [bold]seqlab prepare task=tinystories task.max_chars=null[/]

    BPE: [bold]seqlab prepare task.tokenizer=bpe task.vocab_size=4096[/]
    """
    from seqlab.config.compose import compose
    from seqlab.config.paths import user_config_dirs
    from seqlab.data.console import say, summary_line
    from seqlab.data.prepare import prepare as prepare_task

    cfg = compose(list(overrides or []), user_config_dirs(config_dir))
    from seqlab.registry import TASKS, task_spec

    if not task_spec(cfg.task.name).corpus:
        prepared = ", ".join(name for name, spec in TASKS.items() if spec.corpus)
        raise SeqlabError(f"task '{cfg.task.name}' has nothing to prepare (its data is generated); "
                          f"prepared tasks: {prepared}")
    entry = prepare_task(cfg.task)
    if not entry.built:  # a fresh build has printed its own summary line
        say(f"already prepared: {summary_line(entry.meta)}")
    typer.echo(str(entry.folder))  # stdout: the entry's folder, for scripts
