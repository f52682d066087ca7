"""Instance commands against a `--target` (JCTL_TARGET): same envelopes, rows, output and exit codes as local."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from jctl.errors import UsageError

if TYPE_CHECKING:
    from jctl.targets import Target

T = TypeVar("T")

TARGET_OPTION = typer.Option(None, "--target", envvar="JCTL_TARGET", metavar="URL",
                             help="Act on a remote engine instead of the local store: a Journeys API "
                                  "(http(s)://host:port) or a Temporal cluster (temporal://HOST:PORT/NAMESPACE, "
                                  "needs jctl[temporal]); env JCTL_TARGET.")


def is_temporal(url: str) -> bool:
    return url.lower().startswith("temporal://")


def refuse_local_only(**flags: object) -> None:
    """Flags that only make sense on the local engine are refused with --target rather than silently ignored."""
    given = [name for name, value in flags.items() if value]
    if given:
        raise UsageError(f"{', '.join(given)} cannot be used with --target: the remote engine owns "
                         f"mocks, clock and configuration")


def with_target(url: str, work: Callable[[Target], T]) -> T:
    from jctl.targets import open_target

    target = open_target(url)
    try:
        return work(target)
    finally:
        target.close()


def print_rows(rows: list[dict[str, Any]]) -> None:
    from rich.table import Table

    from jctl.cli.output import console

    if not rows:
        console().print("no instances")
        return
    table = Table("id", "journey", "phase", "state", "updated")
    for row in rows:
        table.add_row(str(row["journeyId"])[:12], row["journeyName"], row["phase"], row.get("currentState") or "",
                      row.get("updatedAt") or "")
    console().print(table)


def print_events(events: list[dict[str, Any]]) -> None:
    from rich.table import Table

    from jctl.cli.output import console

    table = Table("#", "at", "event", "state", "details")
    for column in table.columns[:4]:
        column.no_wrap = True
    for event in events:
        details = json.dumps(event["data"], default=str, ensure_ascii=False) if event.get("data") else ""
        table.add_row(str(event["seq"]), event["at"], event["type"], event.get("state") or "",
                      details if len(details) <= 200 else details[:199] + "…")
    console().print(table)
