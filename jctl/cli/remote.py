"""Instance commands against a `--target` (JCTL_TARGET): same envelopes, rows, output and exit codes as local."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

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
