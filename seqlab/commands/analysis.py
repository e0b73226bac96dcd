"""Commands that analyse models and runs: flops, gates, gradients, compare, eval.

Each function is one `seqlab` command, registered on the app in seqlab/cli.py. Heavy
imports happen inside the functions so that `seqlab --help` answers at once.
"""

from __future__ import annotations

import os
from pathlib import Path

import typer

from seqlab.errors import SeqlabError


def flops(
    overrides: list[str] | None = typer.Argument(
        None, metavar="[OVERRIDES]...",
        help="Hydra overrides naming the model: model=transformer model.n_layer=8 task.seq_len=100",
    ),
    seq_len: list[int] | None = typer.Option(
        None, "--seq-len", "-T",
        help="Sequence length T; repeat for several (default: task.seq_len, and block_size for a transformer)."),
    batch: int = typer.Option(1, "--batch", "-B", help="Sequences per batch (FLOPs scale with it)."),
    vocab_size: int = typer.Option(86, "--vocab-size",
                                   help="Vocabulary size V (86 = the TinyStories character vocabulary)."),
    fmt: str = typer.Option("table", "--format", "-f", help="table, json or markdown."),
    plot: Path | None = typer.Option(
        None, "--plot", help="Also write a PNG: FLOPs and sequential matmuls vs T (log-log) for RNN/GRU/LSTM/transformer."),
    no_measure: bool = typer.Option(False, "--no-measure",
                                    help="Skip the FlopCounterMode check (the measured column)."),
) -> None:
    """FLOPs, sequential matmuls and parameters per component: forward, training, generation.

    Example: [bold]seqlab flops model=transformer[/]

    Several lengths, JSON: [bold]seqlab flops model=gru --seq-len 20 --seq-len 100 --format json[/]
    """
    from seqlab.analysis.flops_report import flops_command

    flops_command(list(overrides or []), seq_len, batch, fmt, plot, not no_measure, vocab_size=vocab_size)


def _analysis_png(name: str) -> Path:
    """Default figure path: outputs/analysis/NAME under SEQLAB_OUTPUTS (default outputs)."""
    return Path(os.environ.get("SEQLAB_OUTPUTS", "outputs")) / "analysis" / name


def gates(
    preset: str | None = typer.Option(
        None, "--preset", "-p",
        help="sum | difference | memory | input-only: the seed's four exercises (weights and example data)."),
    grid: bool = typer.Option(False, "--grid",
                              help="Draw all four presets, and each again with the control input x[1] at 0, on one sheet."),
    x0: float | None = typer.Option(None, "--x0", help="Input x[0], the data channel (default 0, or the preset's)."),
    x1: float | None = typer.Option(None, "--x1", help="Input x[1], the control channel (default 2)."),
    h0: float | None = typer.Option(None, "--h0", help="Previous hidden h[0], the data channel (default 0, or the preset's)."),
    h1: float | None = typer.Option(None, "--h1", help="Previous hidden h[1], the control channel (default 0)."),
    w_xr: float | None = typer.Option(None, "--w-xr", help="Reset gate from the control input, W_xr[0,1] (default 3)."),
    w_hr: float | None = typer.Option(None, "--w-hr", help="Reset gate from the control hidden, W_hr[0,1] (default 3)."),
    w_xz: float | None = typer.Option(None, "--w-xz", help="Update gate from the control input, W_xz[0,1] (default -3)."),
    w_hz: float | None = typer.Option(None, "--w-hz", help="Update gate from the control hidden, W_hz[0,1] (default -3)."),
    w_xn: float | None = typer.Option(None, "--w-xn", help="New content from the data input, W_xn[0,0] (default 3)."),
    w_hn: float | None = typer.Option(None, "--w-hn", help="New content from the data hidden, W_hn[0,0] (default 3)."),
    out: Path | None = typer.Option(None, "--out", "-o",
                                    help="PNG to write (default outputs/analysis/gates_<preset>.png)."),
) -> None:
    """One step of the seed's two-unit GRU (data in index 0, gate control in index 1), drawn as bars.

    Example: [bold]seqlab gates --preset memory[/]

    All four exercises: [bold]seqlab gates --grid[/]
    """
    values = {"x0": x0, "x1": x1, "h0": h0, "h1": h1, "w_xr": w_xr, "w_hr": w_hr, "w_xz": w_xz,
              "w_hz": w_hz, "w_xn": w_xn, "w_hn": w_hn}
    from rich.console import Console

    from seqlab.analysis import gates as g

    if grid:
        if preset or any(v is not None for v in values.values()):
            raise SeqlabError("--grid draws the four presets as they are; drop --preset and the value options")
        path, rows = g.plot_grid(out or _analysis_png("gates_grid.png"))
    else:
        settings = g.settings_for(preset, **values)
        name = preset or "custom"
        path = g.plot_gates(settings, out or _analysis_png(f"gates_{name}.png"),
                            g.PRESETS[preset].summary if preset else "")
        rows = [(name, g.gate_values(settings))]
    Console().print(g.values_table(rows))
    typer.echo(f"wrote {path}")


def gradients(
    overrides: list[str] | None = typer.Argument(
        None, metavar="[OVERRIDES]...",
        help="model=rnn,gru,lstm (a comma list or repeated model=: one curve each; the default without --run) "
             "and overrides applied to every model, e.g. model.hidden_size=128 model.num_layers=2."),
    seq_len: int = typer.Option(100, "--seq-len", "-T", help="T: steps per sequence; the loss is at the last one."),
    batch_size: int = typer.Option(32, "--batch-size", "-b", help="Sequences the norms are averaged over."),
    run: list[Path] | None = typer.Option(
        None, "--run", help="A trained run folder (repeat for several): its weights and vocabulary."),
    with_init: bool = typer.Option(False, "--with-init",
                                   help="With --run: also each run's config freshly initialised (dashed)."),
    checkpoint: str = typer.Option("last", "--checkpoint", help="Which checkpoint of a --run: last or best."),
    text: Path | None = typer.Option(
        None, "--text", help="Real windows from this text (.txt, or .jsonl with a text field) instead of random ids."),
    vocab_size: int = typer.Option(
        86, "--vocab-size", help="Range of the random ids for random-init models without --text (TinyStories: 86)."),
    sweep_spectral: bool = typer.Option(
        False, "--sweep-spectral", help="Instead: Elman RNNs with W_hh rescaled to each spectral radius of --radii."),
    radii: str = typer.Option("0.5,1.0,1.5", "--radii", help="Spectral radii for --sweep-spectral, comma-separated."),
    activation: str = typer.Option("tanh", "--activation",
                                   help="--sweep-spectral: tanh, relu or identity (identity makes the theory exact)."),
    orthogonal: bool = typer.Option(
        False, "--orthogonal", help="--sweep-spectral: W_hh = rho * an orthogonal matrix (every step scales by rho)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the initialisation and the sequences."),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="PNG to write (default outputs/analysis/gradient_flow.png); numbers go beside it as .json."),
) -> None:
    """Gradient flow through time: ||dL_T/dh_t|| for t = 1..T, L_T the loss at the last step only.

    Measured on the scratch path (fused weights are copied in); for stacked models, the top
    layer's h_t. Prints the per-step decay factor of a log-linear fit (< 1: vanishing).

    Example: [bold]seqlab gradients model=rnn,gru,lstm --seq-len 50[/]

    Trained runs against their init: [bold]seqlab gradients --run RUN_DIR --with-init[/]

    Vanishing vs exploding: [bold]seqlab gradients --sweep-spectral --activation identity[/]
    """
    if checkpoint not in ("last", "best"):
        raise SeqlabError(f"--checkpoint must be last or best, got '{checkpoint}'")
    from rich.console import Console

    from seqlab.analysis import gradients as gr

    overrides = list(overrides or [])
    inputs = gr.Inputs(batch_size, seq_len, seed, text, vocab_size)
    names, rest = gr.split_models(overrides)
    reference, styles = None, {}
    if sweep_spectral:
        if run or names:
            raise SeqlabError("--sweep-spectral builds its own Elman RNNs; drop --run and model=")
        try:
            rhos = [float(r) for r in radii.split(",") if r.strip()]
        except ValueError:
            raise SeqlabError(f"--radii must be comma-separated numbers, got '{radii}'") from None
        from seqlab.engine.launch import compose

        sizes = compose(["model=rnn", *rest]).model
        flows, reference = gr.sweep_spectral(inputs, rhos, activation, orthogonal, sizes.embed_size,
                                             sizes.hidden_size, seed)
        what = f"Elman RNN, W_hh rescaled to spectral radius rho ({'orthogonal' if orthogonal else 'random'})"
    else:
        if not names and not run:
            overrides = ["model=rnn,gru,lstm", *rest]
        flows = gr.measure(overrides, inputs, list(run or []), checkpoint, with_init, seed)
        styles = {f.label: "--" for f in flows if f.label.endswith("(init)")}
        what = ("trained runs (solid) vs fresh init (dashed)" if run and with_init
                else "trained runs" if run else "recurrent LMs at random init")
    source = f"windows of {text.name}" if text else "random ids"
    title = f"{what}; T={seq_len}, batch {batch_size} of {source}; loss at t=T only"
    path = gr.plot_flows(flows, out or _analysis_png(
        "gradient_flow_spectral.png" if sweep_spectral else "gradient_flow.png"), title, reference, styles)
    numbers = gr.save_numbers(flows, path.with_suffix(".json"), {"title": title, "seq_len": seq_len,
                                                                 "batch_size": batch_size, "seed": seed})
    Console().print(gr.flows_table(flows))
    typer.echo(f"wrote {path} and {numbers}")


def compare(
    paths: list[str] = typer.Argument(
        ..., metavar="RUN_DIR... | SWEEP_DIR | GLOB",
        help="Run folders, a sweep folder (its runs, found up to 3 levels down) or a quoted glob."),
    x: str = typer.Option("step", "--x", help="x axis of the plot: step, tokens, time (wall seconds) or flops."),
    metric: str = typer.Option(
        "val_loss", "--metric",
        help="What to plot and sort by: val_loss, train_loss, val_bpc, accuracy (val_acc) or val_seq_acc."),
    smooth: float = typer.Option(0.6, "--smooth", help="EMA weight of the past for training curves, in [0, 1)."),
    log: bool = typer.Option(False, "--log", help="Log scale for the y axis."),
    out: Path | None = typer.Option(
        None, "--out", "-o",
        help="Folder for compare.png/.md/.csv (default: the sweep folder, else outputs/compare/<date>/<time>)."),
    tensorboard: Path | None = typer.Option(
        None, "--tensorboard", help="Also write the runs' curves as one TensorBoard log folder here."),
) -> None:
    """Compare runs: a table sorted by the metric, an overlay plot, compare.md and compare.csv.

    Runs still going or with a broken file are used as far as they go, with a warning.

    Example: [bold]seqlab compare outputs/multirun/2026-11-26/14-00-00[/]

    Several runs against compute: [bold]seqlab compare "outputs/2026-11-26/*_gru_*" --x flops --log[/]
    """
    from seqlab.analysis.compare import compare_command

    compare_command(list(paths), x, metric, smooth, log, out)
    if tensorboard is not None:  # issue 15: the writer lives in seqlab/tracking/tb_export.py
        from seqlab.tracking.tb_export import export_tensorboard

        export_tensorboard(list(paths), tensorboard)


def eval_(
    run: Path = typer.Argument(..., help="A run folder of a language-model run (or its checkpoint/step_N folder)."),
    source: str | None = typer.Option(
        None, "--source",
        help="Text to score: a hub name or a local folder shaped like TinyStories (default: the run's task.source)."),
    split: str = typer.Option("validation", "--split", help="validation, test or train."),
    checkpoint: str = typer.Option("last", "--checkpoint", help="Which checkpoint of the run: last or best."),
    batches: str | None = typer.Option(
        None, "--batches",
        help="N evenly spaced batches (the windows training evaluates) or all (the whole split once, in "
             "order); default: the run's trainer.eval_batches."),
    fmt: str = typer.Option("text", "--format", "-f", help="text, or json for one machine-readable line."),
    device: str = typer.Option("cpu", "--device", help="cpu, cuda, cuda:N, mps or auto."),
    precision: str | None = typer.Option(
        None, "--precision", help="fp32 or bf16 (autocast); default: the run's trainer.precision."),
) -> None:
    """Score a run on any text source: loss, bits per char, unknown characters, tokens evaluated.

    With the run's own source, split and batch count it reproduces the run's final validation loss.

    Example: [bold]seqlab eval RUN --source ../shared/data/tinystories --split validation --batches all[/]
    """
    from seqlab.analysis.evaluate import eval_command

    eval_command(run, source, split, checkpoint, batches, fmt, device, precision)
