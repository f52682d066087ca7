"""The full command line: a thin Typer layer over the core. Commands import their heavy modules lazily; every
error reaches the user as a message and a documented exit code (`jctl.cli.app.guarded_main`)."""

from __future__ import annotations

import typer

from jctl import __version__
from jctl.cli import gc, instances, plugin_commands, scenarios, serve, time_commands, validate

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
app.command("serve")(serve.serve)
app.command("gc")(gc.gc)
app.command("test")(scenarios.test)
app.command("graph")(scenarios.graph)
app.command("outbox")(plugin_commands.outbox)
app.add_typer(plugin_commands.schedules_app, name="schedules")
