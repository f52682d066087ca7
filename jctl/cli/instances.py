"""Instance commands: run, signal, status, list, history, cancel — parse flags, call the runner, render."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Any

import typer

from jctl.cli import views
from jctl.cli.output import print_json, read_json_argument
from jctl.errors import EXIT_FINDINGS, EXIT_OK

DB_OPTION = typer.Option(None, "--db", envvar="JCTL_DB", metavar="PATH", help="Store file (default .jctl/jctl.db; env JCTL_DB).")


class Format(str, Enum):
    text = "text"
    json = "json"


FORMAT_OPTION = typer.Option(Format.text, "--format", "-f", help="Output format.")
HEADER_OPTION = typer.Option(None, "--header", "-H", metavar="NAME=VALUE",
                             help="Inbound request header for auth tasks (repeatable; never stored).")
CLIENT_CERT_OPTION = typer.Option(None, "--client-cert", metavar="FILE",
                                  help="Inbound client certificate chain (PEM, leaf first) for mtlsValidate:v1.")
PLUGIN_CONFIG_OPTION = typer.Option(None, "--plugin-config", envvar="JCTL_PLUGIN_CONFIG", metavar="FILE",
                                    help="Plugin profiles (jwtValidate, apiKeyValidate, mtlsValidate) as YAML "
                                    "(env JCTL_PLUGIN_CONFIG).")
SECRETS_OPTION = typer.Option(None, "--secrets", envvar="JCTL_SECRETS", metavar="FILE",
                              help="YAML mapping of secretRef to value for auth policies (env JCTL_SECRETS).")


def run(
    file: Path = typer.Argument(..., metavar="FILE", help="The journey spec to run."),
    input_value: str = typer.Option("{}", "--input", "-i", metavar="JSON|@FILE|-", help="Start input: JSON, @file.json, or - for stdin."),
    mocks: Path = typer.Option(None, "--mocks", metavar="FILE", help="Mocks file answering HTTP calls (stored with the instance)."),
    detach: bool = typer.Option(False, "--detach", help="Only create the instance; `tick`/`worker` runs it."),
    auto_advance: bool = typer.Option(False, "--auto-advance", help="Skip the clock to each due timer."),
    config: Path = typer.Option(None, "--config", metavar="FILE", help="Values for spec.platform.config keys (JSON/YAML file; "
                                "env JCTL_CONFIG_<key> fills the rest)."),
    seed: str = typer.Option(None, "--seed", metavar="SEED", help="Make uuid() in expressions deterministic."),
    secrets: Path = SECRETS_OPTION,
    header: list[str] = HEADER_OPTION,
    client_cert: Path = CLIENT_CERT_OPTION,
    plugin_config: Path = PLUGIN_CONFIG_OPTION,
    output_format: Format = FORMAT_OPTION,
    db: Path = DB_OPTION,
) -> None:
    """Validate FILE and its input, create an instance and execute it until it ends or pauses."""
    views.text_argument(seed, "--seed")
    request = views.inbound_request(header, client_cert)
    input_document = read_json_argument(input_value, "input")
    mocks_document = _read_mocks(mocks) if mocks else None
    platform_config = read_json_argument(f"@{config}", "config") if config else None
    if platform_config is not None and not isinstance(platform_config, dict):
        from jctl.errors import UsageError

        raise UsageError(f"{config}: a platform config file is a mapping of spec.platform.config keys to values")
    runner = views.open_runner(db, uuid_seed=seed, platform_config=platform_config,
                               progress=output_format is Format.text, secrets=secrets, plugin_config=plugin_config)
    envelope = runner.start(file, input_document, mocks=mocks_document, detach=detach, auto_advance=auto_advance,
                            request=request)
    _finish(envelope, output_format)


def signal(
    instance_id: str = typer.Argument(..., metavar="ID", help="Instance id (a unique prefix is enough)."),
    payload: str = typer.Option(..., "--payload", "-p", metavar="JSON|@FILE|-", help="Step payload: JSON, @file.json, or - for stdin."),
    step: str = typer.Option(None, "--step", metavar="STATE", help="The wait/webhook state to feed (inferred when one is active)."),
    idempotency_key: str = typer.Option(None, "--idempotency-key", metavar="KEY", help="Replays the first answer on repeat."),
    secrets: Path = SECRETS_OPTION,
    header: list[str] = HEADER_OPTION,
    client_cert: Path = CLIENT_CERT_OPTION,
    plugin_config: Path = PLUGIN_CONFIG_OPTION,
    output_format: Format = FORMAT_OPTION,
    db: Path = DB_OPTION,
) -> None:
    """Deliver a step submission to a paused wait/webhook state and continue the journey."""
    views.text_argument(instance_id, "instance id")
    views.text_argument(step, "--step")
    views.text_argument(idempotency_key, "--idempotency-key")
    document = read_json_argument(payload, "payload")
    request = views.inbound_request(header, client_cert)
    runner = views.open_runner(db, progress=output_format is Format.text, secrets=secrets,
                               plugin_config=plugin_config)
    envelope = runner.signal(instance_id, document, step=step, idempotency_key=idempotency_key, request=request)
    _finish(envelope, output_format)


def status(
    instance_id: str = typer.Argument(..., metavar="ID", help="Instance id (a unique prefix is enough)."),
    output_format: Format = FORMAT_OPTION,
    header: list[str] = HEADER_OPTION,
    client_cert: Path = CLIENT_CERT_OPTION,
    secrets: Path = SECRETS_OPTION,
    plugin_config: Path = PLUGIN_CONFIG_OPTION,
    db: Path = DB_OPTION,
) -> None:
    """Show where an instance stands (with --header/--client-cert, through the journey's read access guard)."""
    from jctl.engine.envelopes import envelope

    views.text_argument(instance_id, "instance id")
    request = views.inbound_request(header, client_cert)
    store = views.open_store(db)  # a read: no runner, no engines, so it starts fast
    instance = views.guarded(lambda: store.get_instance(instance_id))
    views.enforce_read_guard(db, instance, request, secrets, plugin_config, instance_id)
    from jctl.masking import definition_paths, masked_envelope

    shown = masked_envelope(envelope(instance), definition_paths(instance.definition))
    _finish(shown, output_format, exit_on_failure=False)


def cancel(
    instance_id: str = typer.Argument(..., metavar="ID", help="Instance id (a unique prefix is enough)."),
    output_format: Format = FORMAT_OPTION,
    db: Path = DB_OPTION,
) -> None:
    """Cancel a running instance (JOURNEY_CANCELLED); its timers are discarded. Idempotent."""
    views.text_argument(instance_id, "instance id")
    runner = views.open_runner(db)
    _finish(runner.cancel(instance_id), output_format, exit_on_failure=False)


def list_instances(
    phase: str = typer.Option(None, "--phase", metavar="PHASE", help="RUNNING, SUCCEEDED or FAILED."),
    journey: str = typer.Option(None, "--journey", metavar="NAME", help="Only instances of this journey name."),
    limit: int = typer.Option(50, "--limit", metavar="N", min=0, max=2**63 - 1, help="At most this many, newest first."),
    output_format: Format = FORMAT_OPTION,
    db: Path = DB_OPTION,
) -> None:
    """List instances, newest first."""
    views.text_argument(journey, "--journey")
    store = views.open_store(db)
    phase_filter = views.parse_phase(phase) if phase else None
    instances = views.guarded(lambda: store.list_instances(phase=phase_filter, journey=journey, limit=limit))
    if output_format is Format.json:
        print_json([views.instance_summary(instance) for instance in instances])
    else:
        views.print_instance_table(instances)


def history(
    instance_id: str = typer.Argument(..., metavar="ID", help="Instance id (a unique prefix is enough)."),
    output_format: Format = FORMAT_OPTION,
    header: list[str] = HEADER_OPTION,
    client_cert: Path = CLIENT_CERT_OPTION,
    secrets: Path = SECRETS_OPTION,
    plugin_config: Path = PLUGIN_CONFIG_OPTION,
    db: Path = DB_OPTION,
) -> None:
    """Every transition, HTTP call (auth headers redacted), signal and timer of an instance (with
    --header/--client-cert, through the journey's read access guard)."""
    views.text_argument(instance_id, "instance id")
    request = views.inbound_request(header, client_cert)
    store = views.open_store(db)
    if request is not None:
        views.enforce_read_guard(db, views.guarded(lambda: store.get_instance(instance_id)), request, secrets,
                                 plugin_config, instance_id)
    events = views.guarded(lambda: store.history(instance_id))
    from dataclasses import replace

    from jctl.masking import definition_paths, masked_event_data

    paths = definition_paths(views.guarded(lambda: store.get_instance(instance_id)).definition)
    events = [replace(event, data=masked_event_data(event.data, paths)) for event in events]
    if output_format is Format.json:
        print_json([views.event_document(event) for event in events])
    else:
        views.print_history(events)


def _read_mocks(path: Path) -> dict[str, Any]:
    """Read like every JSON/YAML argument (finite numbers, bounded nesting) and check here, so errors name the file;
    the runner checks again for callers that are not the CLI."""
    from jctl.tasks.mocks import validate_mocks

    return validate_mocks(read_json_argument(f"@{path}", "mocks"), str(path))


def _finish(envelope: dict[str, Any], output_format: Format, exit_on_failure: bool = True) -> None:
    if output_format is Format.json:
        print_json(envelope)
    else:
        views.print_envelope(envelope)
    failed = envelope.get("phase") == "FAILED"
    raise typer.Exit(EXIT_FINDINGS if failed and exit_on_failure else EXIT_OK)
