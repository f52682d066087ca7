"""Commands over the task plugins' store tables: `outbox` (kafkaPublish:v1 records) and `schedules`
(schedule:v1 bindings)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from jctl.cli import views
from jctl.cli.instances import DB_OPTION, FORMAT_OPTION, Format
from jctl.cli.output import console, print_json

if TYPE_CHECKING:
    from jctl.store.models import ScheduleBinding


def outbox(
    topic: str = typer.Option(None, "--topic", metavar="TOPIC", help="Only records of this topic."),
    instance_id: str = typer.Option(None, "--instance", metavar="ID", help="Only records of this instance (a unique prefix is enough)."),
    output_format: Format = FORMAT_OPTION,
    db: Path = DB_OPTION,
) -> None:
    """Show the records kafkaPublish:v1 tasks published (the local outbox), oldest first."""
    from jctl.clock import format_rfc3339

    views.text_argument(topic, "--topic")
    views.text_argument(instance_id, "--instance")
    store = views.open_store(db)
    owner = views.guarded(lambda: store.get_instance(instance_id).id) if instance_id else None
    entries = views.guarded(lambda: store.outbox(topic, owner))
    records: list[dict[str, Any]] = [
        {"seq": e.seq, "topic": e.topic, "key": e.key, "headers": e.headers, "value": e.value,
         "instance": e.instance_id, "state": e.state, "at": format_rfc3339(e.at)} for e in entries]
    if output_format is Format.json:
        print_json(records)
        return
    _print_outbox(records)


schedules_app = typer.Typer(help="List schedule:v1 bindings (next run, run count) or cancel one.",
                            invoke_without_command=True, no_args_is_help=False)


@schedules_app.callback()
def schedules(ctx: typer.Context, output_format: Format = FORMAT_OPTION, db: Path = DB_OPTION) -> None:
    """List the schedule bindings with their next run (RFC 3339) and run count."""
    ctx.obj = db
    if ctx.invoked_subcommand is not None:
        return
    store = views.open_store(db)
    bindings = [_binding_view(b) for b in views.guarded(store.schedules)]
    if output_format is Format.json:
        print_json(bindings)
        return
    _print_schedules(bindings)


@schedules_app.command("cancel")
def schedules_cancel(
    ctx: typer.Context,
    binding_id: str = typer.Argument(..., metavar="ID", help="Schedule binding id (a unique prefix is enough)."),
    output_format: Format = FORMAT_OPTION,
    db: Path = DB_OPTION,
) -> None:
    """End a schedule binding: no further runs start (runs already started go on)."""
    views.text_argument(binding_id, "schedule id")
    store = views.open_store(db or ctx.obj)
    binding = views.guarded(lambda: store.schedule(binding_id))
    changed = views.guarded(lambda: store.cancel_schedule(binding.id))
    view = _binding_view(views.guarded(lambda: store.schedule(binding.id)))
    if output_format is Format.json:
        print_json({**view, "changed": changed})
        return
    console().print(f"schedule {binding.id} " + ("cancelled" if changed else f"was already {binding.status}"))


def _binding_view(binding: ScheduleBinding) -> dict[str, Any]:
    from jctl.clock import format_rfc3339

    return {"id": binding.id, "journey": binding.journey_name, "version": binding.journey_version,
            "subjectId": binding.subject_id, "start": binding.start_state, "interval": binding.interval,
            "status": binding.status, "runsExecuted": binding.runs_executed, "maxRuns": binding.max_runs,
            "nextRun": format_rfc3339(binding.next_run) if binding.next_run else None,
            "lastRun": binding.last_run, "createdBy": binding.creator}


def _print_schedules(bindings: list[dict[str, Any]]) -> None:
    from rich.table import Table

    if not bindings:
        console().print("no schedule bindings")
        return
    table = Table("id", "journey", "subject", "start", "interval", "runs", "next run", "status")
    for b in bindings:
        table.add_row(b["id"], f"{b['journey']} {b['version']}", b["subjectId"] or "", b["start"], b["interval"],
                      f"{b['runsExecuted']}/{b['maxRuns']}", b["nextRun"] or "", b["status"])
    console().print(table)


def _print_outbox(records: list[dict[str, Any]]) -> None:
    from rich.table import Table

    if not records:
        console().print("no records in the outbox")
        return
    table = Table("#", "at", "topic", "key", "instance", "state", "value")
    for record in records:
        value = json.dumps(record["value"], ensure_ascii=False, default=str)
        table.add_row(str(record["seq"]), record["at"], record["topic"], record["key"] or "",
                      str(record["instance"])[:12], record["state"] or "",
                      value if len(value) <= 200 else value[:199] + "…")
    console().print(table)
