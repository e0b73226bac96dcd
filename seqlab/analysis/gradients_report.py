"""`seqlab gradients`: which flows to measure (models, trained runs, a spectral sweep), then
the plot, the numbers beside it and the table. The measuring itself is in gradients.py."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from seqlab.errors import SeqlabError


@dataclass(frozen=True)
class GradientRequest:
    """The options of `seqlab gradients`, as given."""

    overrides: list[str]
    seq_len: int
    batch_size: int
    runs: list[Path]
    with_init: bool
    checkpoint: str
    text: Path | None
    vocab_size: int
    sweep_spectral: bool
    radii: str
    activation: str
    orthogonal: bool
    seed: int


def gradients_command(r: GradientRequest, out: Path | None) -> Path:
    """Measure, plot, save the numbers and print the table; returns the PNG's path."""
    from rich.console import Console

    from seqlab.analysis import gradients as gr
    from seqlab.data.text_files import text_file
    from seqlab.plots import analysis_path

    if r.checkpoint not in ("last", "best"):
        raise SeqlabError(f"--checkpoint must be last or best, got '{r.checkpoint}'")
    text = text_file(r.text, "--text") if r.text is not None else None
    inputs = gr.Inputs(r.batch_size, r.seq_len, r.seed, text, r.vocab_size)
    flows, reference, what = _spectral(r, inputs) if r.sweep_spectral else _models(r, inputs)
    styles = {f.label: "--" for f in flows if f.label.endswith("(init)")}  # fresh twins of trained runs
    source = f"windows of {text.name}" if text else "random ids"
    title = f"{what}; T={r.seq_len}, batch {r.batch_size} of {source}; loss at t=T only"
    default = "gradient_flow_spectral.png" if r.sweep_spectral else "gradient_flow.png"
    path = gr.plot_flows(flows, out or analysis_path(default), title, reference, styles)
    numbers = gr.save_numbers(flows, path.with_suffix(".json"), {"title": title, "seq_len": r.seq_len,
                                                                 "batch_size": r.batch_size, "seed": r.seed})
    Console().print(gr.flows_table(flows))
    print(f"wrote {path} and {numbers}")
    return path


def _spectral(r: GradientRequest, inputs):
    """Elman RNNs with W_hh rescaled to each radius: (flows, reference slopes, description)."""
    from seqlab.analysis import gradients as gr
    from seqlab.config.compose import compose

    names, rest = gr.split_models(r.overrides)
    if r.runs or names:
        raise SeqlabError("--sweep-spectral builds its own Elman RNNs; drop --run and model=")
    try:
        rhos = [float(x) for x in r.radii.split(",") if x.strip()]
    except ValueError:
        raise SeqlabError(f"--radii must be comma-separated numbers, got '{r.radii}'") from None
    sizes = compose(["model=rnn", *rest]).model
    flows, reference = gr.sweep_spectral(inputs, rhos, r.activation, r.orthogonal, sizes.embed_size,
                                         sizes.hidden_size, r.seed)
    what = f"Elman RNN, W_hh rescaled to spectral radius rho ({'orthogonal' if r.orthogonal else 'random'})"
    return flows, reference, what


def _models(r: GradientRequest, inputs):
    """Models at init and/or trained runs: (flows, no reference, description)."""
    from seqlab.analysis import gradients as gr

    names, rest = gr.split_models(r.overrides)
    overrides = list(r.overrides) if names or r.runs else ["model=rnn,gru,lstm", *rest]
    flows = gr.measure(overrides, inputs, list(r.runs), r.checkpoint, r.with_init, r.seed)
    what = ("trained runs (solid) vs fresh init (dashed)" if r.runs and r.with_init
            else "trained runs" if r.runs else "recurrent LMs at random init")
    return flows, None, what
