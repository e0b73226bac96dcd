"""Commands that analyse models and runs: flops, gates, gradients, compare, scaling, eval.

Each function is one `seqlab` command, registered on the app in seqlab/cli.py. Heavy
imports happen inside the functions so that `seqlab --help` answers at once.
"""

from __future__ import annotations

from pathlib import Path

import typer


def flops(
    overrides: list[str] | None = typer.Argument(
        None, metavar="[OVERRIDES]...",
        help="Hydra overrides naming the model: model=transformer model.n_layer=8 task.seq_len=100",
    ),
    seq_len: list[int] | None = typer.Option(
        None, "--seq-len", "-T",
        help="Sequence length T (an encoder-decoder's source length S); repeat for several "
             "(default: the task's window, and block_size for a transformer)."),
    target_len: int | None = typer.Option(
        None, "--target-len", help="Encoder-decoders: decoder tokens per pair (default: the task's; "
                                   "with --seq-len, the source length)."),
    batch: int = typer.Option(1, "--batch", "-B",
                              help="Sequences (pairs, for an encoder-decoder) per batch (FLOPs scale with it)."),
    vocab_size: int | None = typer.Option(
        None, "--vocab-size", help="Vocabulary size V (default: the task's: 86 for TinyStories' characters, "
                                   "K symbols + 2 for a generated task)."),
    fmt: str = typer.Option("table", "--format", "-f", help="table, json or markdown."),
    plot: Path | None = typer.Option(
        None, "--plot", help="Also write a PNG: FLOPs and sequential matmuls vs T (log-log) for the families "
                             "that read one sequence (RNN/GRU/LSTM/transformer/encoder)."),
    no_measure: bool = typer.Option(False, "--no-measure",
                                    help="Skip the FlopCounterMode check (the measured column)."),
) -> None:
    """FLOPs, sequential matmuls and parameters per component: forward, training, generation.

    Example: [bold]seqlab flops model=transformer[/]

    Several lengths, JSON: [bold]seqlab flops model=gru --seq-len 20 --seq-len 100 --format json[/]

    An encoder-decoder, 12-token sources and targets: [bold]seqlab flops model=seq2seq_rnn task=reverse[/]
    """
    from seqlab.analysis.flops_report import flops_command

    flops_command(list(overrides or []), seq_len, batch, fmt, plot, not no_measure, vocab_size=vocab_size,
                  target_len=target_len)


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
    from seqlab.analysis.gates_report import gates_command

    gates_command(preset, grid, {"x0": x0, "x1": x1, "h0": h0, "h1": h1, "w_xr": w_xr, "w_hr": w_hr,
                                 "w_xz": w_xz, "w_hz": w_hz, "w_xn": w_xn, "w_hn": w_hn}, out)


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
        None, "--text", help="Real windows from this text (.txt, or .jsonl with a text field; a folder: its "
                             "validation.jsonl) instead of random ids."),
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

    Measured on the scratch path (fused weights are copied in); for stacked models, the top layer's h_t. Prints the per-step decay factor of a log-linear fit (< 1: vanishing).

    Example: [bold]seqlab gradients model=rnn,gru,lstm --seq-len 50[/]

    Trained runs against their init: [bold]seqlab gradients --run RUN_DIR --with-init[/]

    Vanishing vs exploding: [bold]seqlab gradients --sweep-spectral --activation identity[/]
    """
    from seqlab.analysis.gradients_report import GradientRequest, gradients_command

    request = GradientRequest(list(overrides or []), seq_len, batch_size, list(run or []), with_init, checkpoint,
                              text, vocab_size, sweep_spectral, radii, activation, orthogonal, seed)
    gradients_command(request, out)


def compare(
    paths: list[str] = typer.Argument(
        ..., metavar="RUN_DIR... | SWEEP_DIR | GLOB",
        help="Run folders, any folder holding runs (a sweep, a date folder, outputs/: searched all the way "
             "down) or a quoted glob."),
    x: str = typer.Option(
        "step", "--x",
        help="x axis of the plot: step, tokens, time (wall seconds) or flops (curves), or a config key such as "
             "model.n_embd (each run's final metric against it, one line per --group value)."),
    metric: str = typer.Option(
        "val_loss", "--metric",
        help="What to plot and sort by: val_loss, train_loss, val_bpc, val_bpb (bits per byte: compares tokenizers), accuracy (val_acc), val_seq_acc or val_unseen_acc (lengths longer than any trained on)."),
    smooth: float = typer.Option(0.6, "--smooth", help="Debiased EMA weight of the past for training curves, in [0, 1)."),
    log: bool = typer.Option(False, "--log", help="Log scale for the y axis (and the x axis for tokens and flops); "
                             "with a config key as --x, for the x axis only."),
    out: Path | None = typer.Option(
        None, "--out", "-o",
        help="Folder for compare.png/.md/.csv (default: a new outputs/compare/<date>/<time>; the folders "
             "read are never written to)."),
    tensorboard: Path | None = typer.Option(
        None, "--tensorboard", help="Also write the runs' curves as one TensorBoard log folder here."),
    wide: bool = typer.Option(False, "--wide", help="Every column in the terminal, however wide (by default "
                              "the table fits the terminal; compare.csv and compare.md have every column)."),
    best_over: list[str] | None = typer.Option(
        None, "--best-over",
        help="A config key (repeatable), e.g. trainer.lr: of the runs that agree on every other key, keep only "
             "the one with the best final metric; says how many runs were kept of how many."),
    group: str | None = typer.Option(
        None, "--group",
        help="A config key, or model / task (the preset name): with a config key as --x, one line per value; "
             "otherwise a second table pooling each value's runs that differ only by seed: n, mean, std and "
             "a Student t 95% interval."),
    baseline: str | None = typer.Option(
        None, "--baseline",
        help="With --group: the group value the others are tested against (Welch's t-test, two-sided p)."),
) -> None:
    """Compare runs: a table sorted by the metric, an overlay plot, compare.md and compare.csv.

    Says how many runs it found and which folders below the arguments hold none. Runs still going or with a broken file are used as far as they go, with a warning. Runs are numbered by rank in the table and the plot's legend; the table fits the terminal (--wide: every column). Runs of different tokenizers are ranked by bits per byte, not by a per-token loss.

    Example: [bold]seqlab compare outputs/multirun/2026-11-26/14-00-00[/]

    Several runs against compute: [bold]seqlab compare "outputs/2026-11-26/*_gru_*" --x flops --log[/]

    Best learning rate per width, accuracy against width: [bold]seqlab compare SWEEP --best-over trainer.lr --x model.n_embd --group model --metric val_acc[/]

    Seeds pooled, each model tested against one: [bold]seqlab compare RUNS --group model --baseline gru[/]
    """
    from seqlab.analysis.compare import compare_command

    compare_command(list(paths), x, metric, smooth, log, out, wide=wide, best_over=best_over, group=group,
                    baseline=baseline)
    if tensorboard is not None:  # the writer lives in seqlab/tracking/tb_export.py
        from seqlab.tracking.tb_export import export_tensorboard

        export_tensorboard(list(paths), tensorboard)


def scaling(
    paths: list[str] = typer.Argument(
        ..., metavar="RUN_DIR... | SWEEP_DIR | GLOB",
        help="Run folders, folders holding runs (searched all the way down) or a quoted glob: runs of one or "
             "more families at several compute budgets and sizes."),
    metric: str = typer.Option(
        "val_loss", "--metric", help="The final loss fitted: val_loss, val_bpc, val_bpb (bits per byte) or train_loss."),
    out: Path | None = typer.Option(
        None, "--out", "-o",
        help="Folder for scaling.json, scaling_isoflop.png and scaling_laws.png (default: a new "
             "outputs/scaling/<date>/<time>; the folders read are never written to)."),
    resamples: int = typer.Option(1000, "--resamples", help="Bootstrap draws of the runs within each budget."),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap draws."),
) -> None:
    """Compute-optimal size from IsoFLOP runs (Chinchilla approach 2): a parabola per budget, power laws per family.

    Runs are grouped by family (the model preset) and budget (trainer.flops_budget, else the FLOPs trained). Each budget of 3 or more sizes: final loss against log10 N fitted with a parabola, its minimum N_opt(C), L_opt(C). Each family of 2 or more such budgets: N_opt ~ C^a and L_opt ~ C^b. Bootstrap 95% intervals. Budgets of too few sizes, a parabola that opens downward or a minimum at the ladder's edge are named and left out.

    Example: [bold]seqlab scaling outputs/reproduce/isoflop_gru outputs/reproduce/isoflop_transformer[/]
    """
    from seqlab.analysis.scaling import scaling_command

    scaling_command(list(paths), metric, out, resamples, seed)


def eval_(
    run: Path = typer.Argument(..., help="A run folder of a language-model run (or its checkpoint/step_N folder)."),
    source: str | None = typer.Option(
        None, "--source",
        help="Text to score: a folder shaped like TinyStories, one file of it (its text is the split) or a "
             "hub name (default: the run's task.source)."),
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
