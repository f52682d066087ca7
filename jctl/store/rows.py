"""Row-level SQL of the durable store: each function runs inside the caller's open transaction.

Instances, events, due work and idempotency records are written here; `db.Store` decides the transaction bounds.
"""

from __future__ import annotations

import functools

import json
import sqlite3
from collections.abc import Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from jctl.clock import format_epoch_ms, format_rfc3339, from_epoch_ms, to_epoch_ms
from jctl.store.basics import (
    ConflictError,
    DamagedInstance,
    InstanceSummary,
    StoreError,
    UnknownInstance,
    new_instance_id,
)

if TYPE_CHECKING:  # the dataclass records load when a function needs them (jctl.store.models): a listing never does
    from jctl.store.models import (
        Instance,
        KeyRecord,
        NewDueWork,
        NewEvent,
        ScheduleBinding,
        ScheduleWrite,
        StoreWrite,
    )

INSTANCE_SELECT = (
    "SELECT i.id, i.journey_name, i.kind, d.document, i.phase, i.current_state, i.cursor, i.context, i.output, "
    "i.error, i.tags, i.attributes, i.mocks, i.created_ms, i.updated_ms, i.version "
    "FROM instances i JOIN definitions d ON d.hash = i.definition_hash"
)
INSTANCE_SELECT_HASHED = INSTANCE_SELECT.replace(" FROM ", ", d.hash FROM ", 1)  # the row, then its definition's hash
DAMAGED = ""  # the error a listing reads for a row whose state is damaged: no stored error is empty, JSON has a value
SUMMARY_SELECT = (
    "SELECT i.id, i.journey_name, i.phase, i.current_state, i.created_ms, i.updated_ms, "
    # A listing decodes the columns it prints and has SQLite check (at C speed) the instance's state, which every
    # command that shows or resumes it decodes first: a row whose cursor or context is damaged is left out and named.
    # Damage in the other columns is named by the command that reads them; checking them too (a column access each)
    # cost a 100,000-instance listing a third of its time.
    f"CASE WHEN json_valid(i.cursor) AND json_valid(i.context) THEN i.error ELSE '{DAMAGED}' END FROM instances i"
)


def clock_ms(conn: sqlite3.Connection) -> int:
    now_ms: int = conn.execute("SELECT now_ms FROM clock WHERE id = 1").fetchone()[0]
    return now_ms


def set_clock_ms(conn: sqlite3.Connection, epoch_ms: int) -> datetime:
    moment = from_epoch_ms(epoch_ms)
    conn.execute("UPDATE clock SET now_ms = ?, now = ? WHERE id = 1", (epoch_ms, format_rfc3339(moment)))
    return moment


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return format_rfc3339(value) if value.tzinfo else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} value {value!r} cannot be stored as JSON")


# one encoder for every value: json.dumps with options of its own builds a new JSONEncoder on each call
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_json_default)


def dumps(value: object) -> str:
    try:
        return _ENCODER.encode(value)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"cannot store a value that is not JSON: {exc}") from exc


def store_definition(conn: sqlite3.Connection, definition: dict[str, Any]) -> str:
    document, digest = definition_row(definition)
    conn.execute("INSERT OR IGNORE INTO definitions (hash, document) VALUES (?, ?)", (digest, document))
    return digest


def definition_row(definition: dict[str, Any]) -> tuple[str, str]:
    """The definition's stored document and its hash."""
    import hashlib  # only writers hash definitions; `status` never does

    document = dumps(definition)
    return document, hashlib.sha256(document.encode()).hexdigest()


def mutable_columns(instance: Instance) -> tuple[str | None, ...]:
    """phase .. mocks, in the column order shared by INSERT and UPDATE."""
    phase, state, cursor, context, output, error, attributes = step_columns(instance)
    mocks = dumps(instance.mocks) if instance.mocks is not None else None
    return phase, state, cursor, context, output, error, dumps(instance.tags), attributes, mocks


def insert_instance(
    conn: sqlite3.Connection, instance: Instance, events: list[NewEvent], due: Sequence[NewDueWork],
    known_hash: str | None = None, columns: tuple[str | None, ...] | None = None,
) -> Instance:
    """Insert a new instance at version 0 with its first events and due work (`known_hash`: the definition's, when
    it is already stored; `columns`: its mutable_columns, when encoded already)."""
    import dataclasses  # loaded with the records by the first write (a listing needs neither)

    now_ms = clock_ms(conn)
    created = instance.created_at or from_epoch_ms(now_ms)
    created = from_epoch_ms(to_epoch_ms(created))
    stored = dataclasses.replace(
        instance, id=instance.id or new_instance_id(), created_at=created, updated_at=created, version=0
    )
    definition_hash = known_hash or store_definition(conn, stored.definition)
    try:
        conn.execute(
            "INSERT INTO instances (id, journey_name, kind, definition_hash, phase, current_state, cursor, "
            "context, output, error, tags, attributes, mocks, created_at, created_ms, updated_at, updated_ms, "
            "version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)",
            (stored.id, stored.journey_name, stored.kind, definition_hash, *(columns or mutable_columns(stored)),
             format_rfc3339(created), to_epoch_ms(created), format_rfc3339(created), to_epoch_ms(created)),
        )
    except sqlite3.IntegrityError as exc:
        raise ConflictError(f"an instance with id {stored.id} already exists; use a new id") from exc
    append_encoded_events(conn, stored.id, encoded_events(events), to_epoch_ms(created), 0)  # a new id: no history
    insert_due(conn, stored.id, due)
    return stored


def step_columns(instance: Instance) -> tuple[str | None, ...]:
    """phase .. attributes: the columns a transition changes (it keeps the instance's tags and mocks)."""
    return (
        instance.phase,
        instance.current_state,
        dumps(instance.cursor),
        dumps(instance.context),
        dumps(instance.output),
        dumps(instance.error) if instance.error is not None else None,
        dumps(instance.attributes),
    )


_MUTABLE_SET = ("phase = ?, current_state = ?, cursor = ?, context = ?, output = ?, error = ?, tags = ?, "
                "attributes = ?, mocks = ?, updated_at = ?, updated_ms = ?, version = version + ?")
_STEP_SET = ("phase = ?, current_state = ?, cursor = ?, context = ?, output = ?, error = ?, "
             "attributes = ?, updated_at = ?, updated_ms = ?, version = version + ?")


def update_instance(conn: sqlite3.Connection, instance: Instance, expected_version: int, now_ms: int,
                    known_hash: str | None, columns: tuple[str | None, ...], steps: int = 1) -> int:
    """Write the instance when its stored version is `expected_version`, counting `steps` transitions; returns its
    created_ms (`known_hash`: the definition's, when it is already stored; `columns`: `mutable_columns(instance)`,
    or `step_columns(instance)` when its tags and mocks stay as stored, encoded before the transaction)."""
    definition_hash = known_hash or store_definition(conn, instance.definition)
    mutable_set = _MUTABLE_SET if len(columns) == 9 else _STEP_SET
    values = (*columns, format_epoch_ms(now_ms), now_ms, steps)
    # A transition never changes what the instance is (name, kind, definition): those columns are only compared, so
    # SQLite leaves the index on journey_name untouched (one page fewer to log per commit).
    row = conn.execute(
        f"UPDATE instances SET {mutable_set} WHERE id = ? AND version = ? AND journey_name = ? AND kind = ? "
        "AND definition_hash = ? RETURNING created_ms",
        (*values, instance.id, expected_version, instance.journey_name, instance.kind, definition_hash),
    ).fetchone() or conn.execute(
        f"UPDATE instances SET journey_name = ?, kind = ?, definition_hash = ?, {mutable_set} "
        "WHERE id = ? AND version = ? RETURNING created_ms",
        (instance.journey_name, instance.kind, definition_hash, *values, instance.id, expected_version),
    ).fetchone()
    if row is not None:
        created_ms: int = row[0]
        return created_ms
    stored = conn.execute("SELECT version FROM instances WHERE id = ?", (instance.id,)).fetchone()
    if stored is None:
        raise UnknownInstance(f"instance {instance.id} does not exist; create it before committing transitions")
    raise ConflictError(
        f"instance {instance.id} changed under us: expected version {expected_version}, the store has "
        f"{stored[0]}; reload it and try again"
    )


EncodedEvent = tuple[str, "str | None", str]  # type, state, data as JSON text
EncodedDue = tuple[str, str, int, "str | None", str]  # kind, due_at, due_ms, state, data as JSON text


def encoded_events(events: Sequence[NewEvent]) -> list[EncodedEvent]:
    return [(event.type, event.state, dumps(event.data)) for event in events]


def encoded_due(due: Sequence[NewDueWork]) -> list[EncodedDue]:
    return [(work.kind, format_rfc3339(work.due_at), to_epoch_ms(work.due_at), work.state, dumps(work.data))
            for work in due]


def append_events(conn: sqlite3.Connection, instance_id: str, events: Sequence[NewEvent], at_ms: int) -> None:
    append_encoded_events(conn, instance_id, encoded_events(events), at_ms)


def append_encoded_events(conn: sqlite3.Connection, instance_id: str, events: Sequence[EncodedEvent],
                          at_ms: int, after_seq: int | None = None) -> None:
    """Append events after `after_seq` (the history's length as the caller knows it; read here when None: a wrong
    one cannot overwrite, the key on (instance_id, seq) refuses it)."""
    if not events:
        return
    last = after_seq if after_seq is not None else \
        conn.execute("SELECT MAX(seq) FROM events WHERE instance_id = ?", (instance_id,)).fetchone()[0] or 0
    at = format_epoch_ms(at_ms)
    conn.executemany(
        "INSERT INTO events (instance_id, seq, at, at_ms, type, state, data) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(instance_id, last + offset, at, at_ms, *event) for offset, event in enumerate(events, start=1)],
    )


def insert_due(conn: sqlite3.Connection, instance_id: str, due: Sequence[NewDueWork]) -> None:
    insert_encoded_due(conn, instance_id, encoded_due(due))


def insert_encoded_due(conn: sqlite3.Connection, instance_id: str, due: Sequence[EncodedDue]) -> None:
    if due:
        conn.executemany(
            "INSERT INTO due_work (instance_id, kind, due_at, due_ms, state, data) VALUES (?, ?, ?, ?, ?, ?)",
            [(instance_id, *work) for work in due],
        )


def cancel_due(conn: sqlite3.Connection, instance_id: str, cancel_due: bool | list[str]) -> None:
    if cancel_due is True:
        conn.execute("DELETE FROM due_work WHERE instance_id = ?", (instance_id,))
    elif cancel_due:
        conn.executemany(
            "DELETE FROM due_work WHERE instance_id = ? AND kind = ?", [(instance_id, kind) for kind in cancel_due]
        )


def check_idempotency_free(conn: sqlite3.Connection, instance_id: str, key: str) -> None:
    if conn.execute("SELECT 1 FROM idempotency WHERE instance_id = ? AND key = ?", (instance_id, key)).fetchone():
        raise ConflictError(
            f"idempotency key {key!r} was already used for instance {instance_id}; read the stored response instead"
        )


def instance_from_row(row: tuple[Any, ...], store_path: object = "the store") -> Instance:
    try:
        return _instance_from_row(row)
    except (ValueError, TypeError) as exc:
        raise _damaged(row[0], store_path, exc) from None


def _damaged(instance_id: str, store_path: object, exc: Exception) -> DamagedInstance:
    return DamagedInstance(f"instance {instance_id} in {store_path} is damaged: a stored column is not valid JSON "
                           f"({exc}); restore the store from a backup or delete that row")


def _instance_from_row(row: tuple[Any, ...]) -> Instance:
    from jctl.store.models import Instance

    (instance_id, journey_name, kind, document, phase, current_state, cursor, context, output, error, tags,
     attributes, mocks, created_ms, updated_ms, version) = row[:16]
    return Instance(
        id=instance_id,
        journey_name=journey_name,
        kind=kind,
        definition=decoded_definition(document),
        phase=phase,
        current_state=current_state,
        cursor=json.loads(cursor),
        context=json.loads(context),
        output=json.loads(output) if output is not None else None,
        error=json.loads(error) if error is not None else None,
        tags=json.loads(tags),
        attributes=json.loads(attributes),
        mocks=json.loads(mocks) if mocks is not None else None,
        created_at=from_epoch_ms(created_ms),
        updated_at=from_epoch_ms(updated_ms),
        version=version,
    )


@functools.lru_cache(maxsize=64)
def decoded_definition(document: str) -> Any:
    """A stored definition document decoded, once per process for each text: every instance of one definition shares
    the object, which nobody changes in place (keyed by the whole text, so another text is never served)."""
    return json.loads(document)


def summary_from_row(row: tuple[Any, ...], store_path: object = "the store") -> InstanceSummary:
    """A SUMMARY_SELECT row as a summary, its error decoded; DamagedInstance when its state or error is damaged."""
    instance_id, journey_name, phase, current_state, created_ms, updated_ms, error = row
    try:
        if error == DAMAGED:
            raise ValueError("a column it has is not JSON")
        decoded_error = json.loads(error) if error is not None else None
    except (ValueError, TypeError) as exc:
        raise _damaged(instance_id, store_path, exc) from None
    return InstanceSummary(instance_id, journey_name, phase, current_state, created_ms, updated_ms, decoded_error)


def record_idempotency(conn: sqlite3.Connection, instance_id: str, record: KeyRecord, at_ms: int,
                       encoded: str | None = None) -> None:
    """Record a key (`encoded`: its response as JSON, when encoded before the transaction)."""
    conn.execute(
        "INSERT INTO idempotency (instance_id, key, response, at, pending, project_var) VALUES (?, ?, ?, ?, ?, ?)",
        (instance_id, record.key, encoded if encoded is not None else dumps(record.response),
         format_epoch_ms(at_ms), int(record.response is None), record.project_var),
    )


def settle_encoded(conn: sqlite3.Connection, instance_id: str, answers: dict[str, str]) -> None:
    """Store the answers (encoded before the transaction) of keys whose drive has just halted."""
    conn.executemany(
        "UPDATE idempotency SET response = ?, pending = 0 WHERE instance_id = ? AND key = ? AND pending = 1",
        [(response, instance_id, key) for key, response in answers.items()],
    )


def record_start_key(conn: sqlite3.Connection, key: str, instance_id: str, request_hash: str | None) -> None:
    try:
        conn.execute("INSERT INTO start_keys (key, instance_id, request_hash) VALUES (?, ?, ?)",
                     (key, instance_id, request_hash))
    except sqlite3.IntegrityError as exc:
        raise ConflictError(f"idempotency key {key!r} already started an instance") from exc


def apply_writes(conn: sqlite3.Connection, instance_id: str, writes: Sequence[StoreWrite], now_ms: int) -> None:
    """Plugin effects of one transition (outbox records, cache puts), in its transaction."""
    from jctl.store.models import OutboxRecord, ScheduleWrite

    at = format_epoch_ms(now_ms)
    for write in writes:
        if isinstance(write, OutboxRecord):
            conn.execute(
                "INSERT INTO outbox (instance_id, state, at, at_ms, topic, key, headers, value) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (instance_id, write.state, at, now_ms, write.topic, write.key, dumps(write.headers), dumps(write.value)),
            )
        elif isinstance(write, ScheduleWrite):
            write.binding_id = write_schedule(conn, instance_id, write, now_ms)
        else:
            conn.execute(
                "INSERT OR REPLACE INTO cache (key, value, expires_ms, written_at) VALUES (?, ?, ?, ?)",
                (write.key, dumps(write.value), now_ms + write.ttl_seconds * 1000, at),
            )


SCHEDULE_COLUMNS = ("id, journey_name, journey_version, subject_id, start_state, interval, max_runs, runs_executed, "
                    "next_run_ms, status, creator, last_run, last_context, created_ms")


def schedule_from_row(row: Sequence[Any]) -> ScheduleBinding:
    from jctl.store.models import ScheduleBinding

    (binding_id, name, version, subject, start, interval, max_runs, runs, next_ms, status, creator, last_run,
     last_context, created_ms) = row
    return ScheduleBinding(binding_id, name, version, subject, start, interval, max_runs, runs,
                           from_epoch_ms(next_ms) if next_ms is not None else None, status, creator, last_run,
                           json.loads(last_context), from_epoch_ms(created_ms))


def matching_schedules(conn: sqlite3.Connection, name: str, version: str, subject: str | None,
                       start: str) -> list[str]:
    """Ids of the ACTIVE bindings with this identity key (journey name, version, subject, start state)."""
    found = conn.execute(
        "SELECT id FROM schedules WHERE journey_name = ? AND journey_version = ? AND subject_id IS ? "
        "AND start_state = ? AND status = 'ACTIVE' ORDER BY created_ms, id", (name, version, subject, start))
    return [row[0] for row in found]


def write_schedule(conn: sqlite3.Connection, instance_id: str, write: ScheduleWrite, now_ms: int) -> str:
    """Create the binding (or update the matching one for upsert) and put its first run in due_work."""
    import secrets

    from jctl.store.models import NewDueWork

    existing = matching_schedules(conn, write.journey_name, write.journey_version, write.subject_id,
                                  write.start_state) if write.on_existing == "upsert" else []
    first_ms = to_epoch_ms(write.first_run)
    if existing:
        binding_id = existing[0]
        conn.execute("UPDATE schedules SET interval = ?, max_runs = ?, next_run_ms = ?, last_context = ?, "
                     "creator = ? WHERE id = ?",
                     (write.interval, write.max_runs, first_ms, dumps(write.last_context), instance_id, binding_id))
        conn.execute("DELETE FROM due_work WHERE instance_id = ? AND kind = 'schedule-run'", (binding_id,))
    else:
        binding_id = "sch-" + secrets.token_hex(6)
        conn.execute(
            f"INSERT INTO schedules ({SCHEDULE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, 'ACTIVE', ?, NULL, ?, ?)",
            (binding_id, write.journey_name, write.journey_version, write.subject_id, write.start_state,
             write.interval, write.max_runs, first_ms, instance_id, dumps(write.last_context), now_ms))
    insert_due(conn, binding_id, [NewDueWork("schedule-run", write.first_run, write.start_state)])
    return binding_id
