"""Numbered schema migrations for the durable store; migration N is the function registered as N.

`migrate` applies the missing ones in one `BEGIN IMMEDIATE` transaction, so two processes opening a new store at
once serialise on SQLite's write lock and the second one finds nothing left to do.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING

from jctl.clock import format_rfc3339, from_epoch_ms, to_epoch_ms, truncate_to_ms, wall_now
from jctl.store.basics import START_KEY_PREFIX, StoreError

if TYPE_CHECKING:
    import sqlite_utils

Migration = Callable[["sqlite_utils.Database"], None]
MIGRATIONS: dict[int, Migration] = {}


def migration(number: int) -> Callable[[Migration], Migration]:
    def register(function: Migration) -> Migration:
        if number in MIGRATIONS:
            raise RuntimeError(f"migration {number} is registered twice")
        MIGRATIONS[number] = function
        return function

    return register


def latest_version() -> int:
    return max(MIGRATIONS)


def applied_version(conn: sqlite3.Connection) -> int:
    """The highest migration applied to this store (0 for a new file)."""
    return max(_applied(conn), default=0)


def _applied(conn: sqlite3.Connection) -> set[int]:
    """The migrations this store has applied (none for a new file)."""
    exists = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'migrations'").fetchone()
    if not exists:
        return set()
    return {row[0] for row in conn.execute("SELECT version FROM migrations")}


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the store up to the latest schema; returns how many migrations ran (0 when already current).

    sqlite-utils is imported only when a migration actually runs, so opening an up-to-date store stays cheap.
    """
    if _is_current(conn):
        return 0
    import sqlite_utils

    db = sqlite_utils.Database(conn)
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS migrations "
            "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
        done = _applied(conn)
        pending = [number for number in sorted(MIGRATIONS) if number not in done]
        for number in pending:
            MIGRATIONS[number](db)
            conn.execute(
                "INSERT INTO migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (number, MIGRATIONS[number].__name__, format_rfc3339(wall_now())),
            )
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return len(pending)


def _is_current(conn: sqlite3.Connection) -> bool:
    """Every migration applied: numbers are assigned per change and land in any order, so a store may hold a higher
    one than a migration it still lacks."""
    applied = _applied(conn)
    version = max(applied, default=0)
    if version > latest_version():
        raise StoreError(
            f"the store {conn.execute('PRAGMA database_list').fetchone()[2]} has schema version {version}, "
            f"newer than this jctl understands ({latest_version()}); upgrade jctl or point JCTL_DB at another file"
        )
    return applied.issuperset(MIGRATIONS)


@migration(1)
def initial_schema(db: sqlite_utils.Database) -> None:
    # Definitions are stored once per distinct document; instances point at them by hash.
    db.table("definitions").create({"hash": str, "document": str}, pk="hash", not_null={"document"})
    db.table("instances").create(
        {
            "created_seq": int,  # insertion order: breaks ties between instances created in the same ms
            "id": str,
            "journey_name": str,
            "kind": str,
            "definition_hash": str,
            "phase": str,
            "current_state": str,
            "cursor": str,
            "context": str,
            "output": str,
            "error": str,
            "tags": str,
            "attributes": str,
            "mocks": str,
            "created_at": str,
            "created_ms": int,
            "updated_at": str,
            "updated_ms": int,
            "version": int,
        },
        pk="created_seq",
        not_null={"id", "journey_name", "kind", "definition_hash", "phase", "created_ms", "version"},
        foreign_keys=[("definition_hash", "definitions", "hash")],
    )
    db.table("instances").create_index(["id"], index_name="instances_by_id", unique=True)
    db.table("instances").create_index(["phase", "created_ms"], index_name="instances_by_phase")
    db.table("instances").create_index(["journey_name", "created_ms"], index_name="instances_by_journey")
    db.table("instances").create_index(["created_ms"], index_name="instances_by_created")
    db.table("events").create(
        {"instance_id": str, "seq": int, "at": str, "at_ms": int, "type": str, "state": str, "data": str},
        pk=("instance_id", "seq"),
        not_null={"at", "at_ms", "type", "data"},
    )
    db.table("due_work").create(
        {"id": int, "instance_id": str, "kind": str, "due_at": str, "due_ms": int, "state": str, "data": str},
        pk="id",
        not_null={"instance_id", "kind", "due_at", "due_ms", "data"},
    )
    db.table("due_work").create_index(["due_ms"], index_name="due_work_by_due")
    db.table("due_work").create_index(["instance_id", "kind"], index_name="due_work_by_instance")
    db.table("idempotency").create(
        {"instance_id": str, "key": str, "response": str, "at": str},
        pk=("instance_id", "key"),
        not_null={"response", "at"},
    )
    db.table("leases").create(
        {"instance_id": str, "owner": str, "host": str, "pid": int, "expires_ms": int, "acquired_at": str},
        pk="instance_id",
        not_null={"owner", "expires_ms"},
    )
    db.table("clock").create({"id": int, "now_ms": int, "now": str}, pk="id", not_null={"now_ms", "now"})
    start = truncate_to_ms(wall_now())
    db.conn.execute("INSERT INTO clock (id, now_ms, now) VALUES (1, ?, ?)", (to_epoch_ms(start), format_rfc3339(start)))


@migration(2)
def due_work_ids_never_reused(db: sqlite_utils.Database) -> None:
    # Without AUTOINCREMENT SQLite reuses the id of a deleted row, so a runner that deletes "its" due item by id
    # after a commit could delete a timer scheduled in that very commit. SQLite cannot add AUTOINCREMENT in place.
    conn = db.conn
    conn.execute(
        "CREATE TABLE due_work_v2 (id INTEGER PRIMARY KEY AUTOINCREMENT, instance_id TEXT NOT NULL, "
        "kind TEXT NOT NULL, due_at TEXT NOT NULL, due_ms INTEGER NOT NULL, state TEXT, data TEXT NOT NULL)"
    )
    conn.execute("INSERT INTO due_work_v2 SELECT id, instance_id, kind, due_at, due_ms, state, data FROM due_work")
    conn.execute("DROP TABLE due_work")
    conn.execute("ALTER TABLE due_work_v2 RENAME TO due_work")
    conn.execute("CREATE INDEX due_work_by_due ON due_work (due_ms)")
    conn.execute("CREATE INDEX due_work_by_instance ON due_work (instance_id, kind)")


@migration(3)
def reliability_records(db: sqlite_utils.Database) -> None:
    # An idempotency key is recorded with the step's first transition (pending) and answered when the drive halts,
    # so a process killed in between leaves the key behind; keyed starts map their key to the instance created.
    conn = db.conn
    conn.execute("ALTER TABLE idempotency ADD COLUMN pending INTEGER NOT NULL DEFAULT 0")
    conn.execute("ALTER TABLE idempotency ADD COLUMN project_var TEXT")
    conn.execute("CREATE TABLE start_keys (key TEXT PRIMARY KEY, instance_id TEXT NOT NULL)")


@migration(4)
def plugin_tables(db: sqlite_utils.Database) -> None:
    # The kafkaPublish:v1 outbox, the cache:v1 entries and the schedule:v1 bindings; all written in the
    # transaction of the transition that produced them.
    conn = db.conn
    conn.execute(
        "CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, instance_id TEXT NOT NULL, state TEXT, "
        "at TEXT NOT NULL, at_ms INTEGER NOT NULL, topic TEXT NOT NULL, key TEXT, headers TEXT NOT NULL, "
        "value TEXT NOT NULL)"
    )
    conn.execute("CREATE INDEX outbox_by_topic ON outbox (topic, seq)")
    conn.execute("CREATE TABLE cache (key TEXT PRIMARY KEY, value TEXT NOT NULL, expires_ms INTEGER NOT NULL, "
                 "written_at TEXT NOT NULL)")
    conn.execute(
        "CREATE TABLE schedules (id TEXT PRIMARY KEY, journey_name TEXT NOT NULL, journey_version TEXT NOT NULL, "
        "subject_id TEXT, start_state TEXT NOT NULL, interval TEXT NOT NULL, max_runs INTEGER NOT NULL, "
        "runs_executed INTEGER NOT NULL, next_run_ms INTEGER, status TEXT NOT NULL, creator TEXT NOT NULL, "
        "last_run TEXT, last_context TEXT NOT NULL, created_ms INTEGER NOT NULL)"
    )
    conn.execute("CREATE INDEX schedules_by_identity ON schedules (journey_name, journey_version, start_state)")


@migration(6)
def serve_start_keys_and_retention(db: sqlite_utils.Database) -> None:
    # `jctl serve`: an Idempotency-Key on a start belongs to the journey name (no instance exists yet), and the
    # answer it got is replayed; finished instances are purged by their last update, hence the index.
    db.table("start_idempotency").create(
        {"journey_name": str, "key": str, "request_hash": str, "instance_id": str, "status": int, "response": str,
         "at_ms": int},
        pk=("journey_name", "key"),
        not_null={"request_hash", "instance_id", "status", "response", "at_ms"},
    )
    db.table("instances").create_index(["phase", "updated_ms"], index_name="instances_by_phase_updated")


@migration(9)
def one_start_key_table(db: sqlite_utils.Database) -> None:
    # `jctl serve` kept its own start keys (migration 6) beside the runner's (migration 3). One record now: the
    # runner's start key holds the request's hash, the start's idempotency record holds the answer to replay.
    conn = db.conn
    conn.execute("ALTER TABLE start_keys ADD COLUMN request_hash TEXT")
    served = conn.execute("SELECT journey_name, key, request_hash, instance_id, response, at_ms "
                          "FROM start_idempotency").fetchall()
    for name, key, request_hash, instance_id, response, at_ms in served:
        runner_key = f"{name}/{key}"  # how serve names a key to the runner
        conn.execute("INSERT OR IGNORE INTO start_keys (key, instance_id) VALUES (?, ?)", (runner_key, instance_id))
        conn.execute("UPDATE start_keys SET request_hash = ? WHERE key = ?", (request_hash, runner_key))
        conn.execute("INSERT OR IGNORE INTO idempotency (instance_id, key, response, at, pending) "
                     "VALUES (?, ?, ?, ?, 0)",
                     (instance_id, START_KEY_PREFIX + runner_key, response, format_rfc3339(from_epoch_ms(at_ms))))
    conn.execute("DROP TABLE start_idempotency")


@migration(10)
def applied_effects(db: sqlite_utils.Database) -> None:
    # The Temporal worker applies a trigger's plugin writes (outbox, cache) to its store under a key naming the
    # trigger (workflow, run, position), with the answer the activity gave: a retried activity finds its key and
    # answers the same, applying nothing twice. `applied_ms` is the wall time it was applied (the journey's own clock
    # may be anywhere): `jctl gc` purges keys by it.
    db.conn.execute("CREATE TABLE applied_effects (key TEXT PRIMARY KEY, instance_id TEXT NOT NULL, "
                    "applied_ms INTEGER NOT NULL, answer TEXT NOT NULL)")
