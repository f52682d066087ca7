"""`jctl serve`: the Journeys API over HTTP on the local store, engine and clock."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer

from jctl.cli.instances import DB_OPTION


class ClockMode(str, Enum):
    wall = "wall"
    simulated = "simulated"


def serve(
    folders: list[Path] = typer.Argument(None, metavar="DIR...", help="Folders (or files) with *.journey.yaml (default .)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to bind; anything but loopback is reachable by others."),
    port: int = typer.Option(8080, "--port", min=0, max=65535, help="TCP port (0 picks a free one)."),
    mocks: Path = typer.Option(None, "--mocks", metavar="FILE", help="Mocks file for every instance the server starts."),
    clock: ClockMode = typer.Option(ClockMode.wall, "--clock", help="wall time, or a simulated clock moved by POST /_jctl/clock."),
    retention: str = typer.Option("P7D", "--retention", metavar="DURATION", help="Keep finished instances this long (ISO 8601)."),
    db: Path = DB_OPTION,
) -> None:
    """Serve the Journeys API (start, status, result, steps, cancel, list) for every valid journey under DIR."""
    import signal
    import sys

    import uvicorn

    from jctl.cli import views
    from jctl.cli.drive import read_mocks
    from jctl.clock import parse_duration
    from jctl.errors import UsageError
    from jctl.secrets import load_secrets
    from jctl.serve.app import AccessLog, create_app
    from jctl.serve.catalog import load_catalog
    from jctl.serve.engine import ServeSettings
    from jctl.store import default_db_path
    from jctl.tasks.plugins import load_plugin_config

    try:
        keep = parse_duration(retention)
    except ValueError as error:
        raise UsageError(f"--retention {retention}: {error}") from None
    views.open_store(db).close()  # a bad --db is reported before the server binds
    settings = ServeSettings(folders=list(folders or [Path(".")]), db=db or default_db_path(),
                             mocks=read_mocks(mocks) if mocks else None,
                             simulated_clock=clock is ClockMode.simulated, retention=keep,
                             # so are bad JCTL_SECRETS / JCTL_PLUGIN_CONFIG files
                             secrets=load_secrets(None), plugin_config=load_plugin_config(None))
    catalog = load_catalog(settings.folders)
    for line in catalog.rejected:
        sys.stderr.write(f"not served (invalid): {line}\n")
    if not catalog.journeys:
        raise UsageError("no valid journey to serve", hint="pass folders holding *.journey.yaml files")
    for name, path in sorted(catalog.journeys.items()):
        sys.stderr.write(f"serving {name} ({catalog.start_mode(name)} start) from {path}\n")
    if host not in ("127.0.0.1", "localhost", "::1"):
        sys.stderr.write(f"warning: listening on {host}: nothing authenticates callers except the journeys' own "
                         f"inbound auth tasks\n")
    app = AccessLog(create_app(settings, catalog))
    # uvicorn shuts down gracefully on SIGTERM, then re-raises it to the previous handler: make that a clean exit
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    uvicorn.run(app, host=host, port=port, access_log=False, log_level="warning", timeout_graceful_shutdown=30,
                lifespan="on")
