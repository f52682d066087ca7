"""What instance commands print: envelopes as panels, instances and history as tables; plus opening the store
and runner with their errors mapped to jctl's exit codes."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from jctl.cli.output import (
    print_json_batches,
    _indented,
    console,
    plain_table,
    plain_text,
    print_json,
    print_line,
    writes_plainly,
)
from jctl.documents import event_document, instance_summary, shown_history_of
from jctl.errors import FindingsError, JctlError, UsageError

if TYPE_CHECKING:
    from jctl.engine.runner import Runner
    from jctl.limits import Limits
    from jctl.store import Instance, Store
    from jctl.store.basics import SummaryFields
    from jctl.tasks.request import InboundRequest

T = TypeVar("T")


def open_store(db: Path | None) -> Store:
    """The store at `db` (default: $JCTL_DB or .jctl/jctl.db); a file that is no usable store is reported."""
    from jctl.store import Store, default_db_path

    return guarded(lambda: Store.open(db or default_db_path()))


def open_runner(db: Path | None, *, uuid_seed: str | None = None, platform_config: dict[str, Any] | None = None,
                progress: bool = False, should_stop: Callable[[], bool] | None = None,
                secrets: Path | None = None, plugin_config: Path | None = None,
                data_limits: Limits | None = None) -> GuardedRunner:
    from jctl.engine.runner import Runner
    from jctl.secrets import load_secrets
    from jctl.tasks.plugins import load_plugin_config

    out = _progress_printer() if progress else None
    runner = Runner(open_store(db), uuid_seed=uuid_seed, platform_config=platform_config, out=out,
                    should_stop=should_stop, warn=lambda line: print_line(f"warning: {line}", stderr=True),
                    secrets=load_secrets(secrets), plugin_config=load_plugin_config(plugin_config),
                    data_limits=data_limits)
    return GuardedRunner(runner)


def inbound_request(headers: list[str] | None, client_cert: Path | None) -> InboundRequest | None:
    """The request `--header K=V` (repeatable) and `--client-cert FILE` describe, or None without either."""
    if not headers and client_cert is None:
        return None
    from jctl.tasks.request import InboundRequest

    parsed: dict[str, str] = {}
    for item in headers or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--header {item.split('=')[0]!r}...: write it as NAME=VALUE",
                             hint="for example --header 'Authorization=Bearer <token>'")
        parsed[name.strip()] = value
    cert = None
    if client_cert is not None:
        try:
            cert = client_cert.read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot read --client-cert {client_cert}: {exc.strerror or exc}") from None
    return InboundRequest(parsed, {}, cert)


def enforce_read_guard(db: Path | None, instance: Instance, request: InboundRequest | None,
                       secrets: Path | None, plugin_config: Path | None, given_id: str) -> None:
    """With an inbound identity, a journey's spec.access.read.guardRef decides whether it may be read; a denial
    looks exactly like an unknown id (dsl.md 23.1)."""
    from jctl.engine.access import guard_ref, read_allowed
    from jctl.store import UnknownInstance

    if request is None or guard_ref(instance) is None:
        return
    runner = open_runner(db, secrets=secrets, plugin_config=plugin_config)._runner
    store = runner.store
    if not guarded(lambda: read_allowed(runner, instance, request)):
        guarded(lambda: _raise(UnknownInstance(f"no instance id starts with {given_id!r} in {store.path}; list "
                                               f"instances to find the id")))


def _raise(exc: Exception) -> None:
    raise exc


def _progress_printer() -> Callable[[str], None]:
    def show(line: str) -> None:
        if writes_plainly(sys.stderr) and plain_text(line):
            print_line(f"· {line}", stderr=True)
        else:
            console(stderr=True).print(f"[dim]·[/] {line}", markup=True, highlight=False)

    return show


class GuardedRunner:
    """The runner commands the CLI calls, with store errors turned into JctlErrors (see `guarded`), so the user
    reads a message and a documented exit code instead of a traceback."""

    def __init__(self, runner: Runner):
        self._runner = runner

    def start(self, definition_path: Path, input: Any, *, mocks: dict[str, Any] | None, detach: bool,
              auto_advance: bool, idempotency_key: str | None = None,
              request: InboundRequest | None = None) -> dict[str, Any]:
        return guarded(lambda: self._runner.start(definition_path, input, mocks=mocks, detach=detach,
                                                 auto_advance=auto_advance, idempotency_key=idempotency_key,
                                                 request=request))

    def signal(self, id_or_prefix: str, payload: Any, *, step: str | None,
               idempotency_key: str | None, request: InboundRequest | None = None) -> dict[str, Any]:
        return guarded(lambda: self._runner.signal(id_or_prefix, payload, step=step, idempotency_key=idempotency_key,
                                                  request=request))

    def cancel(self, id_or_prefix: str) -> dict[str, Any]:
        return guarded(lambda: self._runner.cancel(id_or_prefix))

    def tick(self, *, until_idle: bool, auto_advance: bool) -> list[str]:
        return guarded(lambda: self._runner.tick(until_idle=until_idle, auto_advance=auto_advance))

    def advance(self, delta: timedelta) -> list[str]:
        return guarded(lambda: self._runner.advance(delta))

    def set_clock(self, to: datetime) -> list[str]:
        return guarded(lambda: self._runner.set_clock(to))

    def catch_up(self, wall_time: datetime) -> list[str]:
        return guarded(lambda: self._runner.catch_up(wall_time))

    def close(self) -> None:
        self._runner.close()


def guarded(call: Callable[[], T]) -> T:
    """Run `call`, mapping store errors and bad typed values to the JctlError with the right exit code."""
    from jctl.store import ClockError, StoreError

    try:
        return call()
    except JctlError:
        raise
    except ClockError as error:  # the user asked for a time in the clock's past
        raise UsageError(str(error)) from None
    except StoreError as error:
        raise FindingsError(str(error)) from None


def parsed(parse: Callable[[str], T], text: str) -> T:
    """A value the user typed (a timestamp, a duration), or a usage error that says what is wrong with it."""
    try:
        return parse(text)
    except ValueError as error:
        raise UsageError(str(error)) from None


def text_argument(value: str | None, what: str) -> str | None:
    """A text flag or argument as given, or a usage error when its bytes were not UTF-8 (Python hands those over as
    lone surrogates, which neither SQLite nor the hash functions accept)."""
    if value is not None:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise UsageError(f"{what} {value.encode('utf-8', 'surrogateescape')!r} is not valid UTF-8 text") from None
    return value


def parse_pairs(values: list[str], what: str) -> dict[str, str]:
    """`K=V` flags as a dict; a usage error for one without `=` or with an empty key."""
    pairs: dict[str, str] = {}
    for value in values:
        text_argument(value, what)
        key, sep, rest = value.partition("=")
        if not sep or not key:
            raise UsageError(f"{what} {value!r} is not KEY=VALUE", hint=f"e.g. {what} tenantId=acme")
        pairs[key] = rest
    return pairs


def parse_phase(phase: str) -> str:
    from jctl.store.basics import PHASES

    value = phase.upper()
    if value not in PHASES:
        raise UsageError(f"unknown phase `{phase}`", hint=f"use one of {', '.join(PHASES)}")
    return value


LISTING_SECONDS = 100_000  # formatted seconds a listing keeps (instances created or updated in one second share one)


def summaries_renderer() -> Callable[[Sequence[SummaryFields]], str]:
    """A batch of summaries as `print_json` indents them inside a list, joined by its separator, without building
    their documents: names, phases, states and seconds repeat from row to row, so each is encoded once."""
    from json.encoder import encode_basestring_ascii as text

    from jctl.clock import formatted_second, millis_suffixes
    from jctl.store.basics import InstanceSummary

    quoted: dict[object, str] = {None: "null"}
    seconds: dict[int, str] = {}
    millis = millis_suffixes()

    def quote(value: Any) -> str:
        quoted[value] = text(value)  # a TypeError for a value that is not text: the batch is rendered carefully
        return quoted[value]

    def second(epoch_seconds: int) -> str:
        if len(seconds) > LISTING_SECONDS:
            seconds.clear()
        seconds[epoch_seconds] = formatted = formatted_second(epoch_seconds)
        return formatted

    def careful(row: SummaryFields) -> str:
        return _indented(instance_summary(InstanceSummary._make(row))).replace("\n", "\n  ")

    def render(batch: Sequence[SummaryFields]) -> str:
        try:  # one f-string per row (a %-template is parsed on every use: 4x slower), timestamps inline
            return ",\n  ".join([
                f'{{\n    "journeyId": {text(instance_id)},\n    "journeyName": {quoted.get(name) or quote(name)},\n'
                f'    "phase": {quoted.get(phase) or quote(phase)},\n    "currentState": '
                f'{quoted.get(state) or quote(state)},\n    "createdAt": '
                f'"{seconds.get(created // 1000) or second(created // 1000)}{millis[created % 1000]}",\n'
                f'    "updatedAt": '
                f'"{seconds.get(updated // 1000) or second(updated // 1000)}{millis[updated % 1000]}",\n'
                f'    "error": null\n  }}'
                if error is None else careful((instance_id, name, phase, state, created, updated, error))
                for instance_id, name, phase, state, created, updated, error in batch])
        except TypeError:
            return ",\n  ".join(map(careful, batch))

    return render


class ReadGuard(NamedTuple):
    """Who reads (`--header`/`--client-cert`), for a journey's spec.access.read.guardRef; no request, no guard."""

    request: InboundRequest | None = None
    secrets: Path | None = None
    plugin_config: Path | None = None


def _readable(store: Store, db: Path | None, instance_id: str, guard: ReadGuard) -> Instance:
    instance = guarded(lambda: store.get_instance(instance_id))
    if guard.request is not None:
        enforce_read_guard(db, instance, guard.request, guard.secrets, guard.plugin_config, instance_id)
    return instance


def show_status(instance_id: str, output_format: str, db: Path | None, guard: ReadGuard = ReadGuard()) -> None:
    """`jctl status`: a read, so no runner and no engines (it is the command scripts poll); fields the journey's
    schemas mark secret are masked (by the envelope itself)."""
    from jctl.engine.envelopes import envelope

    from jctl.secrets import load_secrets

    text_argument(instance_id, "instance id")
    store = open_store(db)
    instance = _readable(store, db, instance_id, guard)
    print_result(load_secrets(guard.secrets).scrubbed(envelope(instance)), output_format)


def show_instances(phase: str | None, journey: str | None, limit: int, output_format: str, db: Path | None, *,
                   tags: Sequence[str] = (), attributes: Mapping[str, str] | None = None) -> None:
    """`jctl list`, newest first, narrowed by phase, journey, tags and attributes."""
    from jctl.store.basics import InstanceSummary

    text_argument(journey, "--journey")
    store = open_store(db)
    phase_filter = parse_phase(phase) if phase else None
    batches = guarded(lambda: store.summary_batches(phase=phase_filter, journey=journey, limit=limit, tags=tags,
                                                    attributes=attributes))
    if output_format == "json":
        guarded(lambda: print_json_batches(batches, summaries_renderer()))
    else:
        print_instance_table(guarded(lambda: [instance_summary(InstanceSummary._make(row)) for batch in batches
                                              for row in batch]))
    for problem in store.damaged:  # the other instances are listed; these are named
        print_line(f"warning: {problem}", stderr=True)


def show_history(instance_id: str, output_format: str, db: Path | None, guard: ReadGuard = ReadGuard()) -> None:
    """`jctl history`: every event of an instance, oldest first, secret-marked fields masked."""
    from jctl.secrets import load_secrets

    text_argument(instance_id, "instance id")
    store = open_store(db)
    if guard.request is not None:
        _readable(store, db, instance_id, guard)
    secrets = load_secrets(guard.secrets)
    events = [event_document(event) for event in guarded(lambda: shown_history_of(store, instance_id, secrets))]
    if output_format == "json":
        print_json(events)
    else:
        print_history(events)


def print_result(envelope: dict[str, Any], output_format: str) -> None:
    if output_format == "json":
        print_json(envelope)
    else:
        print_envelope(envelope)


def print_envelope(envelope: dict[str, Any]) -> None:
    """An envelope as aligned `key  value` lines, the phase coloured on a terminal.

    Plain text rather than a rich panel: `status` is the command scripts poll, and rich's console costs more
    start-up than the rest of the command (bench/startup.py).
    """
    phase = envelope.get("phase") or "STARTED"  # a start response (`run --detach`) has no phase yet
    rows = [(key, _compact(value)) for key, value in envelope.items() if key != "_links"]
    steps = [rel for rel in envelope.get("_links") or {} if rel not in ("self", "result", "cancel")]
    short_id = str(envelope.get("journeyId", ""))[:8]
    rows += [("next", f"jctl signal {short_id} --step {step} --payload '{{…}}'") for step in steps]
    width = max(len(key) for key, _ in rows) if rows else 0
    lines = [f"{_paint(phase, _PHASE_COLOURS.get(phase, ''))}  {envelope.get('journeyName', '')}"]
    for key, value in rows:
        indent = "\n" + " " * (width + 4)
        lines.append(f"  {key:<{width}}  {value.replace(chr(10), indent)}")
    sys.stdout.write("\n".join(lines) + "\n")


_PHASE_COLOURS = {"SUCCEEDED": "32", "FAILED": "31", "RUNNING": "33"}


def _paint(text: str, colour: str) -> str:
    if not colour or os.environ.get("NO_COLOR") or not sys.stdout.isatty():
        return text
    return f"\x1b[1;{colour}m{text}\x1b[0m"


def _compact(value: Any) -> str:
    if isinstance(value, (dict, list)):
        text = json.dumps(value, indent=2, default=str, ensure_ascii=False)  # people read `é`, not `\u00e9`
        return text if len(text) < 2000 else text[:2000] + "\n…"
    return "" if value is None else str(value)


def print_instance_table(rows: list[dict[str, Any]]) -> None:
    """Instance summaries (`instance_summary` documents, as every target lists them) as a table."""
    if not rows:
        print_line("no instances")
        return
    header = ("id", "journey", "phase", "state", "updated")
    cells = [(str(row["journeyId"])[:12], str(row["journeyName"]), str(row["phase"]), row.get("currentState") or "",
              row.get("updatedAt") or "") for row in rows]
    plain = plain_table(header, cells)
    if plain is not None:
        sys.stdout.write(plain)
        return
    from rich.table import Table

    table = Table(*header)
    for row in cells:
        table.add_row(*row)
    console().print(table)


def print_history(events: list[dict[str, Any]]) -> None:
    """History events (`event_document`s, as every target sends them) as a table, long details cut."""
    header = ("#", "at", "event", "state", "details")
    cells = [(str(event["seq"]), event["at"], event["type"], event.get("state") or "", _details(event.get("data")))
             for event in events]
    plain = plain_table(header, cells)
    if plain is not None:
        sys.stdout.write(plain)
        return
    from rich.table import Table

    table = Table(*header)
    for column in table.columns[:4]:
        column.no_wrap = True
    for row in cells:
        table.add_row(*row)
    console().print(table)


def _details(data: Any) -> str:
    # keys sorted: Temporal hands event data back key-sorted, and the line must not depend on the target
    details = json.dumps(data, default=str, ensure_ascii=False, sort_keys=True) if data else ""
    return details if len(details) <= 200 else details[:199] + "…"
