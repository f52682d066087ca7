"""Where instance commands act when given `--target URL` (JCTL_TARGET): a remote Journeys API.

Every target answers with the envelopes and rows the CLI already renders, so output, exit codes and JSON are the
same whichever target a command uses. `open_target` is the one place that maps a URL scheme to an implementation.
"""

from __future__ import annotations

import builtins

from pathlib import Path
from typing import Any, Protocol


class Target(Protocol):
    def start(self, definition: Path, input: Any, *, idempotency_key: str | None = None) -> dict[str, Any]: ...

    def signal(self, journey_id: str, payload: Any, *, step: str | None = None,
               idempotency_key: str | None = None) -> dict[str, Any]: ...

    def status(self, journey_id: str) -> dict[str, Any]: ...

    def list(self, *, phase: str | None = None, journey: str | None = None, limit: int = 50) -> builtins.list[dict[str, Any]]: ...

    def history(self, journey_id: str) -> builtins.list[dict[str, Any]]: ...

    def cancel(self, journey_id: str) -> dict[str, Any]: ...

    def close(self) -> None: ...


def open_target(url: str) -> Target:
    """The target for `url`: http(s):// -> the Journeys API at that base URL (commands without --target act on the
    local store directly; temporal:// has its own driver, jctl.cli.temporal_target)."""
    from jctl.errors import UsageError

    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme in ("http", "https"):
        from jctl.targets.remote import HttpTarget

        return HttpTarget(url)
    if scheme == "temporal":
        raise UsageError(f"target {url}: the temporal:// target is not available in this build of jctl",
                         hint="use an http(s):// URL of a `jctl serve` or JourneyForge Journeys API")
    raise UsageError(f"target {url!r} is not a URL jctl can drive",
                     hint="pass http(s)://host:port of a Journeys API (e.g. one `jctl serve` runs)")
