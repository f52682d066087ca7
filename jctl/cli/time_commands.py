"""Simulated time: `clock` (show, set, advance), `tick` (run due work) and `worker` (real-time loop)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from jctl.cli import views
from jctl.cli.instances import DB_OPTION, FORMAT_OPTION, PLUGIN_CONFIG_OPTION, SECRETS_OPTION, Format
from jctl.cli.output import console, print_json

if TYPE_CHECKING:
    import signal
    from types import FrameType

    SignalHandler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None

clock_app = typer.Typer(help="Show or move the store's simulated clock; moving it runs the work that fell due.",
                        invoke_without_command=True, no_args_is_help=False)


@clock_app.callback()
def clock(ctx: typer.Context, output_format: Format = FORMAT_OPTION, db: Path = DB_OPTION) -> None:
    """Show the simulated clock (and the next due work) when no subcommand is given."""
    ctx.obj = db
    if ctx.invoked_subcommand is not None:
        return
    from jctl.clock import format_rfc3339

    store = views.open_store(db)
    now, due = views.guarded(lambda: (store.now(), store.next_due_at()))
    if output_format is Format.json:
        print_json({"now": format_rfc3339(now), "nextDueAt": format_rfc3339(due) if due else None})
        return
    console().print(f"clock {format_rfc3339(now)}" + (f" · next due {format_rfc3339(due)}" if due else ""))


@clock_app.command("set")
def clock_set(
    ctx: typer.Context,
    to: str = typer.Argument(..., metavar="TIMESTAMP", help="RFC 3339 timestamp (forward only)."),
    db: Path = DB_OPTION,
) -> None:
    """Move the clock forward to TIMESTAMP, then run all work that became due, in due order."""
    from jctl.clock import parse_rfc3339

    target = views.parsed(parse_rfc3339, to)  # before opening: a typo must not create or touch a store
    _print_fired(views.open_runner(db or ctx.obj).set_clock(target))


@clock_app.command("advance")
def clock_advance(
    ctx: typer.Context,
    duration: str = typer.Argument(..., metavar="DURATION", help="ISO-8601 duration, e.g. PT5M."),
    db: Path = DB_OPTION,
) -> None:
    """Move the clock forward by DURATION, then run all work that became due, in due order."""
    from jctl.clock import parse_duration

    delta = views.parsed(parse_duration, duration)  # before opening: a typo must not create or touch a store
    _print_fired(views.open_runner(db or ctx.obj).advance(delta))


def tick(
    until_idle: bool = typer.Option(False, "--until-idle", help="Keep going until nothing is runnable."),
    auto_advance: bool = typer.Option(False, "--auto-advance", help="Skip the clock to each next due timer."),
    db: Path = DB_OPTION,
) -> None:
    """Run the work that is due at the current simulated clock."""
    runner = views.open_runner(db)
    _print_fired(runner.tick(until_idle=until_idle, auto_advance=auto_advance))


def worker(
    interval: float = typer.Option(0.5, "--interval", metavar="SECONDS", help="Seconds between polls."),
    db: Path = DB_OPTION,
    backend: str = typer.Option("local", "--backend", metavar="local|temporal", help="local store or a Temporal cluster."),
    address: str = typer.Option(None, "--address", metavar="HOST:PORT", help="Temporal frontend (--backend temporal)."),
    namespace: str = typer.Option(None, "--namespace", metavar="NAME", help="Temporal namespace (default: default)."),
    task_queue: str = typer.Option(None, "--task-queue", metavar="QUEUE", help="Temporal task queue (default: jctl-journeys)."),
    secrets: Path = SECRETS_OPTION,
    plugin_config: Path = PLUGIN_CONFIG_OPTION,
) -> None:
    """Real-time loop: the clock follows wall time and due work runs as it falls due. Ctrl-C stops it cleanly.
    With --backend temporal, a Temporal worker for journeys instead (--db: the store of plugin effects)."""
    from jctl.cli import temporal_target
    from jctl.clock import wall_now

    if temporal_target.worker(backend, address, namespace, task_queue, db=db, secrets=secrets,
                              plugin_config=plugin_config):
        return

    if not 0.01 <= interval <= 3600:  # also refuses nan; a negative interval would spin, inf cannot be waited on
        from jctl.errors import UsageError

        raise UsageError(f"--interval {interval} is out of range", hint="poll every 0.01 to 3600 seconds")
    out = console()
    out.print("worker started; Ctrl-C stops it after the transition in progress")
    with _StopRequest() as stop:
        runner = views.open_runner(db, should_stop=lambda: stop.requested, secrets=secrets,
                                   plugin_config=plugin_config)
        try:
            while not stop.requested:
                for line in runner.catch_up(wall_now()):
                    out.print(line, markup=False, highlight=False)
                stop.wait(interval)
        finally:
            runner.close()
    out.print("worker stopped")


class _StopRequest:
    """While active, the first Ctrl-C asks the loop to stop once the current transition has committed; a second one
    forces it (the store stays consistent either way: an interrupted transaction rolls back)."""

    def __init__(self) -> None:
        import threading

        self._event = threading.Event()
        self._previous: SignalHandler = None

    @property
    def requested(self) -> bool:
        return self._event.is_set()

    def wait(self, seconds: float) -> None:
        self._event.wait(seconds)

    def __enter__(self) -> _StopRequest:
        import signal

        self._previous = signal.signal(signal.SIGINT, self._request)
        return self

    def __exit__(self, *exc_info: object) -> None:
        import signal

        signal.signal(signal.SIGINT, self._previous)

    def _request(self, _signum: int, _frame: FrameType | None) -> None:
        if self._event.is_set():
            raise KeyboardInterrupt
        self._event.set()
        console(stderr=True).print("stopping after the current transition (Ctrl-C again to force)")


def _print_fired(lines: list[str]) -> None:
    out = console()
    if not lines:
        out.print("nothing due")
    for line in lines:
        out.print(line, markup=False, highlight=False)
