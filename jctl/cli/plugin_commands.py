"""Commands over the task plugins' store tables: `outbox` (kafkaPublish:v1 records)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from jctl.cli import views
from jctl.cli.instances import DB_OPTION, FORMAT_OPTION, Format
from jctl.cli.output import console, print_json


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
