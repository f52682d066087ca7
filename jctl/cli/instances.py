"""Instance commands: run, signal, status, list, history, cancel — parse flags, call the runner, render."""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Any

import typer

from jctl.cli import drive, views
from jctl.cli.output import print_json
from jctl.cli.remote import TARGET_OPTION, is_temporal

DB_OPTION = typer.Option(None, "--db", envvar="JCTL_DB", metavar="PATH", help="Store file (default .jctl/jctl.db; env JCTL_DB).")


class Format(str, Enum):
    text = "text"
    json = "json"


GRAPH_OPTION = typer.Option(False, "--graph", help="Print the journey as a Mermaid diagram with the path taken highlighted.")
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
    idempotency_key: str = typer.Option(None, "--idempotency-key", metavar="KEY", help="Replays the first start on repeat."),
    secrets: Path = SECRETS_OPTION,
    header: list[str] = HEADER_OPTION,
    client_cert: Path = CLIENT_CERT_OPTION,
    plugin_config: Path = PLUGIN_CONFIG_OPTION,
    output_format: Format = FORMAT_OPTION,
    db: Path = DB_OPTION,
    target: str = TARGET_OPTION,
) -> None:
    """Validate FILE and its input, create an instance and execute it until it ends or pauses."""
    start = drive.read_start(input_value, seed=seed, idempotency_key=idempotency_key, headers=header,
                             client_cert=client_cert, mocks=mocks, config=config)
    if target and not is_temporal(target):
        from jctl.cli import remote

        remote.refuse_local_only(**{"--mocks": mocks, "--detach": detach, "--auto-advance": auto_advance,
                                    "--config": config, "--seed": seed})
        _finish(remote.with_target(target, lambda t: t.start(file, start.input_document,
                                                             idempotency_key=idempotency_key)), output_format)
    if target:
        from jctl.cli import temporal_target
        from jctl.errors import UsageError

        if seed:
            raise UsageError("--seed works on the local store only", hint="leave out --seed or --target")
        _refuse_inbound_request(header, client_cert, "its input")
        _finish(temporal_target.start(target, file, start.input_document, mocks=start.mocks_document, detach=detach,
                                      auto_advance=auto_advance, platform_config=start.platform_config),
                output_format)
    raise typer.Exit(drive.start_locally(file, start, detach=detach, auto_advance=auto_advance, seed=seed,
                                         idempotency_key=idempotency_key, secrets=secrets,
                                         plugin_config=plugin_config, output_format=output_format.value, db=db))


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
    target: str = TARGET_OPTION,
) -> None:
    """Deliver a step submission to a paused wait/webhook state and continue the journey."""
    document = drive.read_signal(instance_id, payload, step=step, idempotency_key=idempotency_key)
    if target:
        if is_temporal(target):
            _refuse_inbound_request(header, client_cert, "its step submissions")
        _finish(_on_target(target, lambda t: t.signal(instance_id, document.document, step=step,
                                                      idempotency_key=idempotency_key)), output_format)
    raise typer.Exit(drive.signal_locally(instance_id, document, step=step, idempotency_key=idempotency_key,
                                          headers=header, client_cert=client_cert, secrets=secrets,
                                          plugin_config=plugin_config, output_format=output_format.value, db=db))


def _refuse_inbound_request(header: list[str], client_cert: Path | None, recorded: str) -> None:
    """--header/--client-cert with a Temporal target: the inbound credentials would be recorded in clear in the
    workflow history, with `recorded`."""
    if header or client_cert:
        from jctl.errors import UsageError

        raise UsageError(f"--header and --client-cert work on the local store only: a Temporal journey records "
                         f"{recorded} in the workflow history", hint="leave them out, or leave out --target")


def status(
    instance_id: str = typer.Argument(..., metavar="ID", help="Instance id (a unique prefix is enough)."),
    output_format: Format = FORMAT_OPTION,
    header: list[str] = HEADER_OPTION,
    client_cert: Path = CLIENT_CERT_OPTION,
    secrets: Path = SECRETS_OPTION,
    plugin_config: Path = PLUGIN_CONFIG_OPTION,
    db: Path = DB_OPTION,
    target: str = TARGET_OPTION,
    graph: bool = GRAPH_OPTION,
) -> None:
    """Show where an instance stands (with --header/--client-cert, through the journey's read access guard)."""
    if target:
        views.text_argument(instance_id, "instance id")
        _finish(_on_target(target, lambda t: t.status(instance_id)), output_format, exit_on_failure=False)
    if graph:
        return _graph_of(instance_id, db)
    views.show_status(instance_id, output_format.value, db,
                      views.ReadGuard(views.inbound_request(header, client_cert), secrets, plugin_config))


def cancel(
    instance_id: str = typer.Argument(..., metavar="ID", help="Instance id (a unique prefix is enough)."),
    output_format: Format = FORMAT_OPTION,
    db: Path = DB_OPTION,
    target: str = TARGET_OPTION,
) -> None:
    """Cancel a running instance (JOURNEY_CANCELLED); its timers are discarded. Idempotent."""
    views.text_argument(instance_id, "instance id")
    if target:
        _finish(_on_target(target, lambda t: t.cancel(instance_id)), output_format, exit_on_failure=False)
    runner = views.open_runner(db)
    _finish(runner.cancel(instance_id), output_format, exit_on_failure=False)


def list_instances(
    phase: str = typer.Option(None, "--phase", metavar="PHASE", help="RUNNING, SUCCEEDED or FAILED."),
    journey: str = typer.Option(None, "--journey", metavar="NAME", help="Only instances of this journey name."),
    limit: int = typer.Option(50, "--limit", metavar="N", min=0, max=2**63 - 1, help="At most this many, newest first."),
    tag: list[str] = typer.Option([], "--tag", metavar="TAG", help="Only instances with this tag (repeatable)."),
    attribute: list[str] = typer.Option([], "--attribute", metavar="K=V",
                                        help="Only instances whose attribute K is V (repeatable)."),
    output_format: Format = FORMAT_OPTION,
    db: Path = DB_OPTION,
    target: str = TARGET_OPTION,
) -> None:
    """List instances, newest first."""
    if target:
        views.text_argument(journey, "--journey")
        phase_wanted = views.parse_phase(phase) if phase else None
        if is_temporal(target):
            from jctl.cli import temporal_target

            return temporal_target.list_instances(target, phase=phase_wanted, journey=journey, limit=limit,
                                                  as_json=output_format is Format.json)
        from jctl.cli import remote

        rows = remote.with_target(target, lambda t: t.list(phase=phase_wanted, journey=journey, limit=limit))
        return print_json(rows) if output_format is Format.json else views.print_instance_table(rows)
    views.show_instances(phase, journey, limit, output_format.value, db, tags=tag,
                         attributes=views.parse_pairs(attribute, "--attribute"))


def history(
    instance_id: str = typer.Argument(..., metavar="ID", help="Instance id (a unique prefix is enough)."),
    output_format: Format = FORMAT_OPTION,
    header: list[str] = HEADER_OPTION,
    client_cert: Path = CLIENT_CERT_OPTION,
    secrets: Path = SECRETS_OPTION,
    plugin_config: Path = PLUGIN_CONFIG_OPTION,
    db: Path = DB_OPTION,
    target: str = TARGET_OPTION,
    graph: bool = GRAPH_OPTION,
) -> None:
    """Every transition, HTTP call (auth headers redacted), signal and timer of an instance (with
    --header/--client-cert, through the journey's read access guard)."""
    if target:
        views.text_argument(instance_id, "instance id")
        if is_temporal(target):
            from jctl.cli import temporal_target

            return temporal_target.history(target, instance_id, as_json=output_format is Format.json)
        from jctl.cli import remote

        documents = remote.with_target(target, lambda t: t.history(instance_id))
        return print_json(documents) if output_format is Format.json else views.print_history(documents)
    if graph:
        return _graph_of(instance_id, db)
    views.show_history(instance_id, output_format.value, db,
                       views.ReadGuard(views.inbound_request(header, client_cert), secrets, plugin_config))


def _on_target(url: str, command: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
    """One envelope from a remote engine: a Temporal cluster, or a Journeys API (`jctl serve`, JourneyForge)."""
    if is_temporal(url):
        from jctl.cli.temporal_target import call

        return call(url, command)
    from jctl.cli import remote

    return remote.with_target(url, command)


def _graph_of(instance_id: str, db: Path | None) -> None:
    views.text_argument(instance_id, "instance id")
    store = views.open_store(db)
    _print_graph(store, views.guarded(lambda: store.get_instance(instance_id)))


def _print_graph(store: Any, instance: Any) -> None:
    from jctl.errors import UsageError
    from jctl.graph import instance_diagram

    spec_path = instance.cursor.get("specPath")
    if not spec_path or not Path(spec_path).is_file():
        raise UsageError(f"the spec of instance {instance.id} ({spec_path or 'unknown'}) is no longer readable",
                         hint="--graph draws the journey from its spec file")
    events = [(e.type, e.state, e.data) for e in store.history(instance.id)]
    current = instance.current_state if instance.phase == "RUNNING" else (events[-1][1] if events else None)
    typer.echo(instance_diagram(Path(spec_path), events, current or ""), nl=False)


def _finish(envelope: dict[str, Any], output_format: Format, exit_on_failure: bool = True) -> None:
    raise typer.Exit(drive.finish(envelope, output_format.value, exit_on_failure))
