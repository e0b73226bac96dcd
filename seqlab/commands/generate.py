"""Commands that read a trained run: sample, attention.

Each function is one `seqlab` command, registered on the app in seqlab/cli.py. Heavy
imports happen inside the functions so that `seqlab --help` answers at once.
"""

from __future__ import annotations

from pathlib import Path

import typer


def sample(
    run: Path = typer.Argument(..., help="A run folder (or its checkpoint/step_N folder)."),
    prompt: str = typer.Option("Once upon a time", "--prompt", "-p",
                               help='Text to continue; "" starts a new story (from the story separator).'),
    max_new_tokens: int = typer.Option(500, "--max-new-tokens", "-n", help="Characters to generate per sample."),
    temperature: float = typer.Option(0.8, "--temperature", "-t",
                                      help="Softmax temperature; 0 = greedy (the most likely token each time)."),
    top_k: int = typer.Option(0, "--top-k", help="Sample from the k most likely characters only (0 = off)."),
    top_p: float = typer.Option(1.0, "--top-p", help="Nucleus sampling: smallest set with this much mass (1 = off)."),
    num_samples: int = typer.Option(1, "--num-samples", "-s", help="How many samples to draw."),
    seed: int | None = typer.Option(None, "--seed", help="Seed for reproducible samples."),
    device: str = typer.Option("cpu", "--device", help="cpu, cuda, cuda:N, mps or auto."),
    checkpoint: str = typer.Option("last", "--checkpoint", help="Which checkpoint of a run folder: last or best."),
    allow_unknown: bool = typer.Option(False, "--allow-unknown",
                                       help="Map prompt characters outside the vocabulary to the unknown id."),
    source: str | None = typer.Option(None, "--source", help='For a synthetic-task run: the source to '
                                      'translate, e.g. "3 1 4 1 5" (greedy decoding).'),
) -> None:
    """Generate text from a trained run; needs nothing but the run folder.

    Example: [bold]seqlab sample outputs/2026-11-26/12-00-00_gru_tinystories --prompt "Once upon a time"[/]

    Synthetic task: [bold]seqlab sample RUN --source "3 1 4 1 5"[/]
    """
    from seqlab.sample_command import SampleRequest, sample_command

    request = SampleRequest(prompt, max_new_tokens, temperature, top_k, top_p, num_samples, seed, allow_unknown)
    sample_command(run, request, source, checkpoint, device)


def attention(
    run: Path = typer.Argument(..., help="A transformer run folder."),
    text: str = typer.Option("Lily said,", "--text", help="Text to attend over (at most block_size characters)."),
    out: Path | None = typer.Option(None, "--out", help="PNG path (default: RUN/attention.png)."),
    device: str = typer.Option("cpu", "--device", help="cpu, cuda, cuda:N, mps or auto."),
) -> None:
    """Heatmaps of a trained transformer's attention, one per layer and head, from the real forward pass.

    Example: [bold]seqlab attention outputs/2026-11-26/12-00-00_transformer_tinystories --text "Lily said,"[/]
    """
    from seqlab.analysis.attention import attention_for_run
    from seqlab.engine.device import resolve_device
    from seqlab.runs.reader import require_run

    require_run(run)
    path = attention_for_run(run, text, out or run / "attention.png", resolve_device(device))
    typer.echo(str(path))
