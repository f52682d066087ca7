"""The jctl command line: a thin Typer layer over the core. Commands import their heavy modules lazily so
`jctl --help` stays fast; every error reaches the user as a message and a documented exit code."""

from __future__ import annotations

import os
import sys

import typer

from jctl import __version__
from jctl.cli import instances, plugin_commands, time_commands, validate
from jctl.errors import EXIT_INTERNAL, JctlError

app = typer.Typer(
    name="jctl",
    help="The local workbench for JourneyForge journey specs: validate, run durably, signal, inspect.",
    no_args_is_help=True,
    add_completion=True,
    rich_markup_mode=None,  # plain help: rich help rendering alone costs more start-up than the rest of jctl
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"jctl {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """Exit codes: 0 ok, 1 findings or a failed journey, 2 usage or unreadable input, 3 internal error."""


app.command("validate")(validate.validate)
app.command("run")(instances.run)
app.command("signal")(instances.signal)
app.command("status")(instances.status)
app.command("list")(instances.list_instances)
app.command("history")(instances.history)
app.command("cancel")(instances.cancel)
app.add_typer(time_commands.clock_app, name="clock")
app.command("tick")(time_commands.tick)
app.command("worker")(time_commands.worker)
app.command("outbox")(plugin_commands.outbox)
app.add_typer(plugin_commands.schedules_app, name="schedules")


def main() -> None:
    try:
        app()
    except JctlError as error:
        report_error(error)
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as error:  # a bug: say so plainly, traceback only on request
        if os.environ.get("JCTL_DEBUG"):
            raise
        sys.stderr.write(f"jctl: internal error: {type(error).__name__}: {error}\n"
                         "Run again with JCTL_DEBUG=1 for the traceback, and please report it.\n")
        sys.exit(EXIT_INTERNAL)


def report_error(error: JctlError) -> None:
    from rich.text import Text

    from jctl.cli.output import console

    err = console(stderr=True)
    err.print(Text("error: ", style="bold red") + Text(error.message))
    for detail in error.details:
        err.print(Text(f"  - {detail}"))
    if error.hint:
        err.print(Text("hint: ", style="cyan") + Text(error.hint))
