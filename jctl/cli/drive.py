"""`run` and `signal` on the local store, shared by the Typer commands (jctl.cli.instances) and the lean entry point
(jctl.cli.app): check and read the arguments, drive the runner, print the envelope and return the exit code. No
CLI framework here, and nothing heavy at import: these are the commands a person waits on."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from jctl.cli import views
from jctl.cli.output import read_json_argument
from jctl.errors import EXIT_FINDINGS, EXIT_OK
from jctl.limits import Limits

if TYPE_CHECKING:
    from jctl.tasks.request import InboundRequest


class StartArguments(NamedTuple):
    """What `run` reads before it starts anything (locally or on a target), in the order it reports problems."""

    input_document: Any
    request: InboundRequest | None
    mocks_document: dict[str, Any] | None
    platform_config: dict[str, Any] | None
    limits: Limits


def read_start(input_value: str, *, seed: str | None, idempotency_key: str | None, headers: list[str] | None,
               client_cert: Path | None, mocks: Path | None, config: Path | None) -> StartArguments:
    views.text_argument(seed, "--seed")
    views.text_argument(idempotency_key, "--idempotency-key")
    limits = Limits.load()
    input_document = read_json_argument(input_value, "input", limits.input)
    request = views.inbound_request(headers, client_cert)
    mocks_document = read_mocks(mocks) if mocks else None
    platform_config = read_json_argument(f"@{config}", "config") if config else None
    if platform_config is not None and not isinstance(platform_config, dict):
        from jctl.errors import UsageError

        raise UsageError(f"{config}: a platform config file is a mapping of spec.platform.config keys to values")
    return StartArguments(input_document, request, mocks_document, platform_config, limits)


def start_locally(file: Path, start: StartArguments, *, detach: bool, auto_advance: bool, seed: str | None,
                  idempotency_key: str | None, secrets: Path | None, plugin_config: Path | None,
                  output_format: str, db: Path | None) -> int:
    runner = views.open_runner(db, uuid_seed=seed, platform_config=start.platform_config,
                               progress=output_format == "text", secrets=secrets, plugin_config=plugin_config,
                               data_limits=start.limits)
    envelope = runner.start(file, start.input_document, mocks=start.mocks_document, detach=detach,
                            auto_advance=auto_advance, idempotency_key=idempotency_key, request=start.request)
    return finish(envelope, output_format)


class Payload(NamedTuple):
    document: Any
    limits: Limits


def read_signal(instance_id: str, payload: str, *, step: str | None, idempotency_key: str | None) -> Payload:
    views.text_argument(instance_id, "instance id")
    views.text_argument(step, "--step")
    views.text_argument(idempotency_key, "--idempotency-key")
    limits = Limits.load()
    return Payload(read_json_argument(payload, "payload", limits.input), limits)


def signal_locally(instance_id: str, payload: Payload, *, step: str | None, idempotency_key: str | None,
                   headers: list[str] | None, client_cert: Path | None, secrets: Path | None,
                   plugin_config: Path | None, output_format: str, db: Path | None) -> int:
    request = views.inbound_request(headers, client_cert)
    runner = views.open_runner(db, progress=output_format == "text", secrets=secrets, plugin_config=plugin_config,
                               data_limits=payload.limits)
    document = payload.document
    envelope = runner.signal(instance_id, document, step=step, idempotency_key=idempotency_key, request=request)
    return finish(envelope, output_format)


def finish(envelope: dict[str, Any], output_format: str, exit_on_failure: bool = True) -> int:
    """Print the envelope; the exit code says whether the journey failed (1) or not (0)."""
    views.print_result(envelope, output_format)
    failed = envelope.get("phase") == "FAILED"
    return EXIT_FINDINGS if failed and exit_on_failure else EXIT_OK


def read_mocks(path: Path) -> dict[str, Any]:
    """Read like every JSON/YAML argument (finite numbers, bounded nesting) and check here, so errors name the file;
    the runner checks again for callers that are not the CLI."""
    from jctl.tasks.mocks import validate_mocks

    return validate_mocks(read_json_argument(f"@{path}", "mocks"), str(path))
