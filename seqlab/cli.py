"""The `seqlab` command line: the Typer app, its commands (seqlab/commands/), the entry point.

Heavy imports (torch, datasets, hydra, matplotlib) happen inside the commands so that
`seqlab --help` answers at once.
"""

from __future__ import annotations

import os
import sys

import typer

import seqlab
from seqlab.commands import analysis, data, generate, listing, report, run, search
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



def _flags_show_no_type() -> None:
    """Typer's help prints `<bool>` beside an on/off flag as if it took a value: show nothing."""
    from typer.core import TyperOption

    typed = TyperOption.display_type_rich
    TyperOption.display_type_rich = lambda self, ctx: None if self.is_flag else typed(self, ctx)


_flags_show_no_type()


def _version(value: bool) -> None:
    if value:
        typer.echo(f"seqlab {seqlab.__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print seqlab's version and exit."),
) -> None:
    """Options before the command (the app's help text is Typer(help=...) above)."""


# Commands that take Hydra overrides pass unknown tokens (model=gru, +experiment=x) through.
OVERRIDES = {"allow_extra_args": True, "ignore_unknown_options": True}

# Registration order is the order of `seqlab --help`.
app.command(context_settings=OVERRIDES)(run.train)
app.command(context_settings=OVERRIDES)(run.resume)
app.command()(run.reproduce)
app.command(context_settings=OVERRIDES)(search.search)
app.command(context_settings=OVERRIDES)(data.prepare)
app.command()(generate.sample)
app.command()(generate.attention)
app.command()(listing.models)
app.command()(listing.tasks)
app.command()(listing.experiments)
app.command(context_settings=OVERRIDES)(analysis.flops)
app.command()(analysis.gates)
app.command(context_settings=OVERRIDES)(analysis.gradients)
app.command()(analysis.compare)
app.command()(analysis.scaling)
app.command(name="eval")(analysis.eval_)
app.command()(report.report)


# Click's exceptions, wherever this Typer keeps them (it carries its own copy of click since 0.26).
CLICK = sys.modules[typer.BadParameter.__module__]


def usage_line(err: Exception) -> str:
    """A command-line mistake Typer would draw as a box (a bad option value, an unknown option,
    a missing argument), as one line that names the command's help."""
    message = " ".join(err.format_message().split())
    opts = getattr(getattr(err, "param", None), "opts", None) or []
    args = sys.argv[1:]
    given = [b for a, b in zip(args, args[1:]) if a in opts] + [a.split("=", 1)[1] for a in args
                                                                  if a.split("=", 1)[0] in opts and "=" in a]
    if given:  # the value that was refused
        message = f"{message.rstrip('.')}: got '{given[-1]}'"
    ctx = getattr(err, "ctx", None)
    return f"{message} (see: {ctx.command_path} --help)" if ctx is not None else message


def main() -> None:
    """Console entry point: user errors become one line on stderr and exit code 2."""
    debug = "--debug" in sys.argv
    if debug:
        sys.argv.remove("--debug")
        os.environ["SEQLAB_DEBUG"] = "1"
    try:
        code = app(standalone_mode=False)  # click's errors come here instead of being drawn
    except SeqlabError as err:
        if debug or os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        typer.echo(f"error: {err}", err=True)
        sys.exit(err.exit_code)
    except CLICK.NoArgsIsHelpError as err:  # `seqlab` alone: the help was printed
        sys.exit(err.exit_code)
    except CLICK.ClickException as err:  # UsageError, BadParameter, NoSuchOption, ...: exit 2
        typer.echo(f"error: {usage_line(err)}", err=True)
        sys.exit(err.exit_code)
    except typer.Abort:
        typer.echo("Aborted!", err=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
