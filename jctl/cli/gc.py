"""`jctl gc`: purge finished instances past their retention, offline (what `jctl serve` does as it runs), and the
once-only keys a Temporal worker's store keeps of the plugin effects it applied."""

from __future__ import annotations

from pathlib import Path

import typer

from jctl.cli.instances import DB_OPTION, FORMAT_OPTION, Format


def gc(
    older_than: str = typer.Option("P7D", "--older-than", metavar="DURATION",
                                   help="Purge instances that finished longer ago than this (ISO 8601, store clock)."),
    output_format: Format = FORMAT_OPTION,
    db: Path = DB_OPTION,
) -> None:
    """Delete SUCCEEDED/FAILED instances (with their history) that finished before now minus DURATION (store
    clock), and the keys of Temporal triggers' plugin effects applied before then (wall time)."""
    from jctl.cli import views
    from jctl.cli.output import print_json
    from jctl.clock import parse_duration, wall_now
    from jctl.errors import UsageError

    try:
        keep = parse_duration(older_than)
    except ValueError as error:
        raise UsageError(f"--older-than {older_than}: {error}") from None
    store = views.open_store(db)
    purged = views.guarded(lambda: store.purge_finished(store.now() - keep))
    forgotten = views.guarded(lambda: store.purge_applied_effects(wall_now() - keep))
    if output_format is Format.json:
        print_json({"purged": purged, "appliedEffectKeys": forgotten})
    else:
        typer.echo(f"purged {len(purged)} finished instance(s)")
        if forgotten:
            typer.echo(f"forgot {forgotten} applied-effect key(s) of Temporal triggers")
