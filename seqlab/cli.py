"""The `seqlab` command line: one thin function per command.

Heavy imports (torch, datasets, hydra, matplotlib) happen inside the commands so that
`seqlab --help` answers at once.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from seqlab.errors import SeqlabError

app = typer.Typer(
    name="seqlab",
    help="Experiment runner for sequence models: train RNNs, GRUs, LSTMs and transformers, "
         "sample from them and compare them.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
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
) -> None:
    """Train a model on a task; writes a run folder under outputs/.

    Example: [bold]seqlab train model=gru task=tinystories trainer.max_steps=2000[/]

    Sweep:   [bold]seqlab train -m model.hidden_size=128,256[/]
    """
    from seqlab.engine.launch import run_train

    run_train(list(overrides or []), multirun=multirun, print_cfg=cfg, extra_config_dir=config_dir)


@app.command()
def sample(
    run: Path = typer.Argument(..., help="A run folder (or its checkpoint/step_N folder)."),
    prompt: str = typer.Option("Once upon a time", "--prompt", "-p", help="Text to continue."),
    max_new_tokens: int = typer.Option(500, "--max-new-tokens", "-n", help="Characters to generate per sample."),
    temperature: float = typer.Option(0.8, "--temperature", "-t", help="Softmax temperature (> 0)."),
    top_k: int = typer.Option(0, "--top-k", help="Sample from the k most likely characters only (0 = off)."),
    top_p: float = typer.Option(1.0, "--top-p", help="Nucleus sampling: smallest set with this much mass (1 = off)."),
    num_samples: int = typer.Option(1, "--num-samples", "-s", help="How many samples to draw."),
    seed: int | None = typer.Option(None, "--seed", help="Seed for reproducible samples."),
    device: str = typer.Option("cpu", "--device", help="cpu, cuda, cuda:N, mps or auto."),
    checkpoint: str = typer.Option("last", "--checkpoint", help="Which checkpoint of a run folder: last or best."),
    allow_unknown: bool = typer.Option(False, "--allow-unknown",
                                       help="Map prompt characters outside the vocabulary to the unknown id."),
) -> None:
    """Generate text from a trained run; needs nothing but the run folder.

    Example: [bold]seqlab sample outputs/2026-11-26/12-00-00_gru_tinystories --prompt "Once upon a time"[/]
    """
    from seqlab.sampling import check_sampling_args

    check_sampling_args(max_new_tokens, temperature, top_k, top_p, num_samples)
    if checkpoint not in ("last", "best"):
        raise SeqlabError(f"--checkpoint must be last or best, got '{checkpoint}'")
    from seqlab.engine.checkpoint import load_checkpoint
    from seqlab.engine.device import resolve_device
    from seqlab.sampling import sample_texts

    dev = resolve_device(device)
    ckpt = load_checkpoint(run, checkpoint, dev)
    texts = sample_texts(ckpt.model, ckpt.vocab, prompt, num_samples, max_new_tokens, temperature,
                         top_k, top_p, seed, dev, allow_unknown)
    for i, text in enumerate(texts):
        if num_samples > 1:
            typer.secho(f"--- sample {i + 1} ---", fg="cyan", err=True)
        typer.echo(text)


@app.command()
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


@app.command()
def tasks() -> None:
    """List the tasks in the registry.

    Example: [bold]seqlab tasks[/]
    """
    from seqlab.registry import TASKS

    for name, spec in sorted(TASKS.items()):
        typer.echo(f"{name:<22}[{spec.kind}] {spec.summary}")


def main() -> None:
    """Console entry point: user errors become one line on stderr and exit code 2."""
    debug = "--debug" in sys.argv
    if debug:
        sys.argv.remove("--debug")
        os.environ["SEQLAB_DEBUG"] = "1"
    try:
        app()
    except SeqlabError as err:
        if debug or os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        typer.echo(f"error: {err}", err=True)
        sys.exit(err.exit_code)
