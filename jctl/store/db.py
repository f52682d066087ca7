"""The durable store: one SQLite file (WAL) holding instances, their history, due work, leases and the clock.

Every state transition is one `BEGIN IMMEDIATE` transaction that checks the instance `version`, so a killed
process leaves a consistent file and two processes never both advance the same instance from the same version.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
from _thread import RLock  # what threading.RLock makes, without importing threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import threading

    import sqlite_utils

from jctl.clock import format_rfc3339, from_epoch_ms, to_epoch_ms, wall_now
from jctl.processes import process_alive
from jctl.store import rows
from jctl.store.migrations import migrate
from jctl.store.basics import (
    START_KEY_PREFIX,
    AmbiguousInstance,
    ClockError,
    ConflictError,
    DamagedInstance,
    DrivePosition,
    InstanceSummary,
    StartKey,
    StoreError,
    SummaryFields,
    UnknownInstance,
)

if TYPE_CHECKING:  # the dataclass records load when a method needs them (jctl.store.models): a listing never does
    from jctl.store.models import (
        DueWork,
        Event,
        Instance,
        KeyRecord,
        NewDueWork,
        NewEvent,
        OutboxEntry,
        PreparedCreate,
        ScheduleBinding,
        StepWrite,
        StoreWrite,
    )

BUSY_TIMEOUT_S = 10.0  # SQLite waits this long for the write lock before reporting "busy"
RETRY_FOR_S = 60.0  # then we keep retrying with backoff for this long before giving up with a clear message
DEFAULT_LEASE_TTL = timedelta(seconds=30)
CHECKPOINT_EVERY = 256  # write transactions of one handle between its checkpoints (≈ 2,000 pages of log)
AUTOCHECKPOINT_PAGES = 10_000  # SQLite checkpoints inside a commit only when the log grows past this (≈ 40 MB)
LISTING_BATCH = 1_000  # rows a listing reads at a time
MAX_KNOWN_DEFINITIONS = 256  # definitions whose stored hash a store remembers (by identity)
T = TypeVar("T")


def default_db_path() -> Path:
    """`$JCTL_DB` when set, else `.jctl/jctl.db` under the current directory."""
    configured = os.environ.get("JCTL_DB", "").strip()
    if configured:
        return Path(configured).expanduser()
    return Path.cwd() / ".jctl" / "jctl.db"


def new_lease_owner() -> str:
    """A lease owner id naming this host and process, unique per runner."""
    import socket

    return f"{socket.gethostname()}:{os.getpid()}:{os.urandom(4).hex()}"  # secrets.token_hex, without its imports


class Store:
    """A handle on one store file. Not shared across processes: each process opens its own."""

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self.conn = conn
        self._lock = RLock()
        self.damaged: list[str] = []  # why rows the last `list_instances` skipped cannot be read
        self._definition_hashes: dict[int, tuple[dict[str, Any], str]] = {}
        self._definition_rows: dict[int, tuple[dict[str, Any], tuple[str, str]]] = {}
        self._lock_fd: int | None = None  # the writer lock file, opened on the first write
        self._commits = 0  # write transactions through this handle: every CHECKPOINT_EVERY, a checkpoint
        self._checkpointer: threading.Thread | None = None

    @property
    def db(self) -> sqlite_utils.Database:
        """The sqlite-utils view of the connection, for migrations and tools; plain reads skip its import cost."""
        import sqlite_utils

        return sqlite_utils.Database(self.conn)

    @classmethod
    def open(cls, path: Path | str | None = None) -> Store:
        target = Path(path) if path is not None else default_db_path()
        _refuse_hard_links(target)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                str(target), timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the store {target}: {exc}; check the path or set JCTL_DB") from exc
        store = cls(target, conn)
        try:
            store._retrying(store._refuse_foreign_database)
            store._retrying(store._configure)
            store._retrying(lambda: store.conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone())
            store._retrying(lambda: migrate(store.conn))
        except BaseException:
            conn.close()
            raise
        return store

    def _refuse_foreign_database(self) -> None:
        """An SQLite file of another program is refused before anything (WAL mode, jctl's tables) is written to it.
        jctl creates its tables in the transaction that records them in `migrations`, so a store never has tables
        without that one."""
        names = {row[0] for row in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        foreign = sorted(name for name in names if not name.startswith("sqlite_"))
        if foreign and "migrations" not in names:
            raise StoreError(f"{self.path} is not a usable jctl store: it is an SQLite database with other tables "
                             f"({', '.join(foreign[:5])}); point JCTL_DB or --db at another file")

    def _configure(self) -> None:
        self.conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        self.conn.execute("PRAGMA journal_mode = WAL")
        # NORMAL in WAL mode survives any process crash; only an OS crash may lose the last commits.
        self.conn.execute("PRAGMA synchronous = NORMAL")
        self.conn.execute("PRAGMA foreign_keys = ON")
        # SQLite's own checkpoint (inside a COMMIT, under the writer lock) only as a bound; `_write` checkpoints
        self.conn.execute(f"PRAGMA wal_autocheckpoint = {AUTOCHECKPOINT_PAGES}")

    def close(self) -> None:
        with self._lock:
            if self._checkpointer is not None:
                self._checkpointer.join(BUSY_TIMEOUT_S)
            self.conn.close()
            if self._lock_fd is not None and self._lock_fd >= 0:
                os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- transactions -------------------------------------------------------------------------------------------

    def _retrying(self, work: Callable[[], T]) -> T:
        """Run `work`, retrying with jittered backoff while SQLite reports the file busy or locked."""
        give_up_at = time.monotonic() + RETRY_FOR_S
        delay = 0.002
        with self._lock:
            while True:
                try:
                    return work()
                except sqlite3.DatabaseError as exc:
                    if not _is_busy(exc):
                        raise StoreError(_explain(self.path, exc)) from exc
                    if time.monotonic() > give_up_at:
                        raise StoreError(
                            f"the store {self.path} stayed locked by another process for over "
                            f"{int(RETRY_FOR_S)} s; stop the other jctl process or use another JCTL_DB"
                        ) from exc
                import random

                time.sleep(delay * random.uniform(0.5, 1.5))
                delay = min(delay * 2, 0.1)

    def _write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work` inside BEGIN IMMEDIATE ... COMMIT; any exception rolls everything back."""

        def attempt() -> T:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                result = work(self.conn)
                self.conn.execute("COMMIT")
                return result
            except BaseException:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise

        with self._lock:
            with self._writers_queue():
                result = self._retrying(attempt)
            self._commits += 1
            if self._commits % CHECKPOINT_EVERY == 0:
                self._checkpoint_in_background()
            return result

    def _checkpoint_in_background(self) -> None:
        """Copy the write-ahead log into the database file on a thread of its own, over its own connection: the
        copy and its two fsyncs take tens of milliseconds, which SQLite's own checkpoint would spend inside a
        COMMIT, with this process stopped and every other writer waiting on the lock file. A PASSIVE checkpoint
        lets readers and writers go on; a checkpoint cut short (the process exits) leaves the log to the next."""
        if self._checkpointer is not None and self._checkpointer.is_alive():
            return
        import threading  # writers only: a read command does not load it

        self._checkpointer = threading.Thread(target=_checkpoint, args=(self.path,), name="jctl-store-checkpoint",
                                              daemon=True)
        self._checkpointer.start()

    @contextlib.contextmanager
    def _writers_queue(self) -> Iterator[None]:
        """Hold the store's writer lock file (`<store>-lock`, flock) around a write transaction, so the jctl
        processes writing to one store take turns, each woken as the previous one commits, instead of polling
        SQLite's lock with growing sleeps. SQLite's own lock still guards the data: a writer that cannot use the
        lock file, or waits on it longer than the busy timeout, goes on without it."""
        fd = self._writer_lock_fd()
        if fd is None:
            yield
            return
        import fcntl

        held = False
        give_up = time.monotonic() + BUSY_TIMEOUT_S
        delay = 0.0001
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                held = True
                break
            except BlockingIOError:
                if time.monotonic() > give_up:
                    break
                time.sleep(delay)
                delay = min(delay * 2, 0.001)
            except OSError:
                break
        try:
            yield
        finally:
            if held:
                fcntl.flock(fd, fcntl.LOCK_UN)

    def _writer_lock_fd(self) -> int | None:
        if self._lock_fd is None:
            try:
                import fcntl  # noqa: F401  (POSIX only: elsewhere writers rely on SQLite's lock alone)

                self._lock_fd = os.open(f"{self.path}-lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except (ImportError, OSError):
                self._lock_fd = -1
        return self._lock_fd if self._lock_fd >= 0 else None

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._retrying(lambda: self.conn.execute(sql, params).fetchall())

    # -- clock --------------------------------------------------------------------------------------------------

    def now(self) -> datetime:
        """The simulated clock: starts at wall time when the store is created, moves only when told."""
        try:  # asked several times a drive: the retry loop only when SQLite reports the file busy
            with self._lock:
                (now_ms,), = self.conn.execute("SELECT now_ms FROM clock WHERE id = 1").fetchall()
        except sqlite3.DatabaseError:
            (now_ms,), = self._query("SELECT now_ms FROM clock WHERE id = 1")
        return from_epoch_ms(now_ms)

    def set_clock(self, to: datetime) -> datetime:
        target_ms = to_epoch_ms(to)

        def move(conn: sqlite3.Connection) -> datetime:
            current_ms = rows.clock_ms(conn)
            if target_ms < current_ms:
                raise ClockError(
                    f"the clock is at {format_rfc3339(from_epoch_ms(current_ms))} and can only move forward; "
                    f"{format_rfc3339(to)} is in its past"
                )
            return rows.set_clock_ms(conn, target_ms)

        return self._write(move)

    def advance_clock(self, delta: timedelta) -> datetime:
        if delta < timedelta(0):
            raise ClockError(f"cannot advance the clock by a negative duration ({delta}); it only moves forward")
        delta_ms = delta // timedelta(milliseconds=1)
        return self._write(lambda conn: rows.set_clock_ms(conn, rows.clock_ms(conn) + delta_ms))

    # -- instances ----------------------------------------------------------------------------------------------

    def create_instance(
        self, instance: Instance, events: list[NewEvent], due: Iterable[NewDueWork] = (),
        start_key: KeyRecord | None = None, request_hash: str | None = None, lease_owner: str | None = None,
    ) -> Instance:
        """Insert a new instance (version 0) with its first history events and due work, atomically; with
        `start_key`, also the key's record and the hash of the request it came with (ConflictError when the key
        already started an instance); with `lease_owner`, the new instance's lease for that owner (the runner that
        drives it next) in the same commit."""
        key = start_key
        fresh: list[tuple[dict[str, Any], str]] = []

        def create(conn: sqlite3.Connection) -> Instance:
            fresh.clear()
            created = self._insert(conn, instance, events, list(due), fresh)
            if key is not None:
                rows.record_start_key(conn, key.key, created.id, request_hash)
                rows.record_idempotency(conn, created.id, _start_record(key), rows.clock_ms(conn))
            if lease_owner is not None:
                _claim_lease(conn, created.id, lease_owner, DEFAULT_LEASE_TTL)
            return created

        created = self._write(create)
        self._remember_hashes(fresh)
        return created

    def started_by_key(self, key: str) -> StartKey | None:
        """The instance a keyed start created (and its request's hash), if any."""
        found = self._query("SELECT instance_id, request_hash FROM start_keys WHERE key = ?", (key,))
        return StartKey(str(found[0][0]), found[0][1]) if found else None

    def create_instances(self, batch: Sequence[tuple[Instance, list[NewEvent], list[NewDueWork]]]) -> list[Instance]:
        """Create several instances in one transaction (imports, benchmarks)."""
        fresh: list[tuple[dict[str, Any], str]] = []

        def create(conn: sqlite3.Connection) -> list[Instance]:
            fresh.clear()
            return [self._insert(conn, *item, fresh) for item in batch]

        created = self._write(create)
        self._remember_hashes(fresh)
        return created

    def _insert(self, conn: sqlite3.Connection, instance: Instance, events: list[NewEvent], due: list[NewDueWork],
                fresh: list[tuple[dict[str, Any], str]]) -> Instance:
        """Insert one instance; (definition, hash) is added to `fresh`, remembered once the transaction commits."""
        digest = self._known_hash(instance.definition) or rows.store_definition(conn, instance.definition)
        stored = rows.insert_instance(conn, instance, events, due, digest)
        fresh.append((stored.definition, digest))
        return stored

    def _known_hash(self, definition: dict[str, Any]) -> str | None:
        """The stored hash of a definition this store handed out or wrote (by identity: definitions are never
        changed in place), so a transition does not encode and hash the whole definition again."""
        known = self._definition_hashes.get(id(definition))
        return known[1] if known is not None and known[0] is definition else None

    def _definition_row(self, definition: dict[str, Any]) -> tuple[str, str]:
        """`rows.definition_row`, worked out once per definition object (starts of one spec share theirs)."""
        known = self._definition_rows.get(id(definition))
        if known is not None and known[0] is definition:
            return known[1]
        row = rows.definition_row(definition)
        if len(self._definition_rows) >= MAX_KNOWN_DEFINITIONS:
            self._definition_rows.clear()
        self._definition_rows[id(definition)] = (definition, row)
        return row

    def _remember_hashes(self, known: Iterable[tuple[dict[str, Any], str]]) -> None:
        """Remember stored definitions' hashes; only committed ones: a definition row rolled back is not stored."""
        for definition, digest in known:
            if len(self._definition_hashes) >= MAX_KNOWN_DEFINITIONS:
                self._definition_hashes.clear()
            self._definition_hashes[id(definition)] = (definition, digest)

    def get_instance(self, id_or_prefix: str) -> Instance:
        """The instance with this exact id, or the only one whose id starts with it."""
        found = self._query(f"{rows.INSTANCE_SELECT_HASHED} WHERE i.id = ?", (id_or_prefix.strip(),))
        if not found:
            found = self._query(f"{rows.INSTANCE_SELECT_HASHED} WHERE i.id = ?", (self._resolve_id(id_or_prefix),))
        if not found:
            raise UnknownInstance(f"instance {id_or_prefix} no longer exists in {self.path}")
        instance = rows.instance_from_row(found[0], self.path)
        self._remember_hashes([(instance.definition, found[0][-1])])
        return instance

    def list_instances(
        self, phase: str | None = None, journey: str | None = None, limit: int | None = None,
        tags: Sequence[str] = (), attributes: Mapping[str, str] | None = None,
    ) -> list[Instance]:
        """Instances newest first, optionally only one phase and/or one journey name, carrying every one of
        `tags` and `attributes`."""
        sql, params = _listing_query(rows.INSTANCE_SELECT, phase, journey, limit, tags, attributes)
        listed: list[Instance] = []
        self.damaged = []
        for row in self._query(sql, params):
            try:
                listed.append(rows.instance_from_row(row, self.path))
            except DamagedInstance as exc:
                self.damaged.append(str(exc))  # reported by the caller; the other instances are still listed
        return listed

    def instance_summaries(
        self, phase: str | None = None, journey: str | None = None, limit: int | None = None,
        tags: Sequence[str] = (), attributes: Mapping[str, str] | None = None,
    ) -> Iterator[InstanceSummary]:
        """What `list_instances` finds, as summaries streamed (see `summary_batches`)."""
        for batch in self.summary_batches(phase, journey, limit, tags, attributes):
            yield from map(InstanceSummary._make, batch)

    def summary_batches(
        self, phase: str | None = None, journey: str | None = None, limit: int | None = None,
        tags: Sequence[str] = (), attributes: Mapping[str, str] | None = None,
    ) -> Iterator[list[SummaryFields]]:
        """What `list_instances` finds, as summary fields in batches of up to LISTING_BATCH rows: a listing of the
        whole store decodes neither definitions nor contexts (SQLite checks that they are intact) and never holds
        every row at once. A row without an error is the tuple SQLite returns; rows with a damaged column are left
        out and named in `damaged`."""
        sql, params = _listing_query(rows.SUMMARY_SELECT, phase, journey, limit, tags, attributes)
        self.damaged = []
        cursor = self._retrying(lambda: self.conn.execute(sql, params))
        while batch := self._retrying(lambda: cursor.fetchmany(LISTING_BATCH)):
            if list(map(itemgetter(6), batch)).count(None) != len(batch):  # an error to decode, or damage
                batch = self._decoded_errors(batch)
            yield batch

    def _decoded_errors(self, batch: list[tuple[Any, ...]]) -> list[SummaryFields]:
        decoded: list[SummaryFields] = []
        for row in batch:
            try:
                decoded.append(row if row[6] is None else rows.summary_from_row(row, self.path))
            except DamagedInstance as exc:
                self.damaged.append(str(exc))  # reported by the caller once the others are listed
        return decoded

    def _resolve_id(self, id_or_prefix: str) -> str:
        """The full id for an exact id or an unambiguous prefix, through the unique index on `id`."""
        given = id_or_prefix.strip()
        if not given:
            raise UnknownInstance("no instance id given; pass an id or the first characters of one")
        matches: list[str] = []
        for wanted in dict.fromkeys((given, given.lower())):
            if self._query("SELECT 1 FROM instances WHERE id = ?", (wanted,)):
                return wanted
            if ord(wanted[-1]) >= 0x10FFFF:  # no code point after it to bound the range with
                continue
            upper = wanted[:-1] + chr(ord(wanted[-1]) + 1)
            matches = [row[0] for row in self._query(
                "SELECT id FROM instances WHERE id >= ? AND id < ? ORDER BY id LIMIT 6", (wanted, upper)
            )]
            if matches:
                break
        if not matches:
            raise UnknownInstance(
                f"no instance id starts with {id_or_prefix!r} in {self.path}; list instances to find the id"
            )
        if len(matches) > 1:
            shown = ", ".join(matches[:5]) + (", ..." if len(matches) > 5 else "")
            raise AmbiguousInstance(
                f"{id_or_prefix!r} matches several instances ({shown}); give more characters of the id"
            )
        return matches[0]

    # -- transitions --------------------------------------------------------------------------------------------

    def commit_transition(
        self,
        instance: Instance,
        *,
        expected_version: int,
        events: list[NewEvent],
        schedule: Iterable[NewDueWork] = (),
        cancel_due: bool | list[str] = False,
        idempotency: KeyRecord | None = None,
        settle: dict[str, dict[str, Any]] | None = None,
        writes: Sequence[StoreWrite] = (),
        release_lease: str | None = None,
    ) -> Instance:
        """Write the instance (version + 1), its events, due-work changes and idempotency records (a new one,
        and the answers of pending keys in `settle`), or nothing; with `release_lease`, that owner's lease on the
        instance ends in the same commit (the drive's last transition)."""
        from jctl.store.models import StepWrite

        step = StepWrite(events, list(schedule), cancel_due, idempotency, settle, list(writes))
        return self._commit_steps(instance, expected_version, [step], rows.mutable_columns(instance), release_lease,
                                  None)

    def prepare_create(self, instance: Instance, events: list[NewEvent], due: list[NewDueWork],
                       created_at: datetime) -> PreparedCreate:
        """A new instance (version 0, created at `created_at`) encoded as `create_instance` would store it, for a
        later `commit_transitions` to insert; its `instance` is the one a read of the stored row returns."""
        import dataclasses

        from jctl.store.basics import new_instance_id
        from jctl.store.models import PreparedCreate

        moment = from_epoch_ms(to_epoch_ms(created_at))
        stored = dataclasses.replace(instance, id=instance.id or new_instance_id(), created_at=moment,
                                     updated_at=moment, version=0)
        document, digest = self._definition_row(stored.definition)
        columns = rows.mutable_columns(stored)
        created_ms = to_epoch_ms(moment)
        decoded = rows.instance_from_row((stored.id, stored.journey_name, stored.kind, document, *columns, created_ms,
                                          created_ms, 0), self.path)
        return PreparedCreate(decoded, events, due, document, digest, columns)

    def commit_transitions(self, instance: Instance, *, expected_version: int, steps: Sequence[StepWrite],
                           release_lease: str | None = None, after_seq: int | None = None,
                           create: PreparedCreate | None = None, lease_owner: str | None = None,
                           claim_lease: str | None = None) -> Instance:
        """Commit several transitions of one instance at once, or none: `instance` as the last leaves it (its tags
        and mocks as stored: a transition keeps them), version + len(steps), and each step's events, due-work
        changes, plugin writes and idempotency records in order. The version is checked once, against the first
        step's `expected_version`. `after_seq`: the length of the history as the caller (the lease holder) knows
        it. With `create`, the instance is inserted first, in the same transaction, and with `lease_owner` its
        lease is taken for that owner. With `claim_lease`, the instance's lease is taken for that owner in the same
        transaction (only checked when `release_lease` ends it there too); ConflictError, and nothing written, when
        another live runner holds it."""
        return self._commit_steps(instance, expected_version, steps, rows.step_columns(instance), release_lease,
                                  after_seq, create, lease_owner, claim_lease)

    def _commit_steps(self, instance: Instance, expected_version: int, steps: Sequence[StepWrite],
                      columns: tuple[str | None, ...], release_lease: str | None, after_seq: int | None,
                      create: PreparedCreate | None = None, lease_owner: str | None = None,
                      claim_lease: str | None = None) -> Instance:
        import dataclasses  # loaded with the records by the first write (a listing needs neither)

        known_hash = create.definition_hash if create is not None else self._known_hash(instance.definition)
        # encoded before the transaction: writers on one store wait for each other only while they write
        encoded = [(step, rows.encoded_events(step.events), rows.encoded_due(step.schedule),
                    rows.dumps(step.idempotency.response) if step.idempotency is not None else None,
                    {key: rows.dumps(answer) for key, answer in (step.settle or {}).items()}) for step in steps]

        def transition(conn: sqlite3.Connection) -> Instance:
            if create is not None:
                conn.execute("INSERT OR IGNORE INTO definitions (hash, document) VALUES (?, ?)",
                             (create.definition_hash, create.document))
                rows.insert_instance(conn, create.instance, create.events, create.due, create.definition_hash,
                                     create.columns)
            if lease_owner is not None:
                _claim_lease(conn, instance.id, lease_owner, DEFAULT_LEASE_TTL)  # a new instance: no one holds it
            if claim_lease is not None and not _claim_lease(conn, instance.id, claim_lease, DEFAULT_LEASE_TTL,
                                                            hold=release_lease != claim_lease):
                raise ConflictError(f"instance {instance.id} is being advanced by another jctl process")
            now_ms = rows.clock_ms(conn)
            for step in steps:
                if step.idempotency is not None:
                    rows.check_idempotency_free(conn, instance.id, step.idempotency.key)
            created_ms = rows.update_instance(conn, instance, expected_version, now_ms, known_hash, columns,
                                              len(steps))
            # the history of every step at once, in step order (events go to a table of their own)
            rows.append_encoded_events(conn, instance.id, [event for _, events, *_ in encoded for event in events],
                                       now_ms, after_seq)
            for step, _, due, response, settle in encoded:
                rows.cancel_due(conn, instance.id, step.cancel_due)
                rows.insert_encoded_due(conn, instance.id, due)
                rows.apply_writes(conn, instance.id, step.writes, now_ms)
                if step.idempotency is not None:
                    rows.record_idempotency(conn, instance.id, step.idempotency, now_ms, response)
                if settle:
                    rows.settle_encoded(conn, instance.id, settle)
            if release_lease is not None:
                conn.execute("DELETE FROM leases WHERE instance_id = ? AND owner = ?", (instance.id, release_lease))
            return dataclasses.replace(
                instance,
                version=expected_version + len(steps),
                created_at=from_epoch_ms(created_ms),
                updated_at=from_epoch_ms(now_ms),
            )

        committed = self._write(transition)
        if create is not None:
            self._remember_hashes([(create.instance.definition, create.definition_hash)])
        return committed

    def definition_of(self, id_or_prefix: str) -> dict[str, Any]:
        """The definition an instance runs, read without its other columns (which may be damaged)."""
        instance_id = self._resolve_id(id_or_prefix)
        (document,), = self._query("SELECT d.document FROM instances i JOIN definitions d "
                                   "ON d.hash = i.definition_hash WHERE i.id = ?", (instance_id,))
        definition: dict[str, Any] = json.loads(document)
        return definition

    def history(self, id_or_prefix: str) -> list[Event]:
        from jctl.store.models import Event

        instance_id = self._resolve_id(id_or_prefix)
        found = self._query(
            "SELECT seq, at_ms, type, state, data FROM events WHERE instance_id = ? ORDER BY seq", (instance_id,)
        )
        return [Event(instance_id, seq, from_epoch_ms(at_ms), kind, state, json.loads(data))
                for seq, at_ms, kind, state, data in found]

    def drive_position(self, instance_id: str, owner: str | None = None) -> DrivePosition:
        """The stored version of an instance and the length of its history: a runner that holds the lease checks
        an instance it read before against it instead of reading it again; with them (one query where a drive
        starts), the clock, whether the instance has keys waiting for their answer and, for `owner`, whether its
        lease is free for that owner."""
        found = self._query("SELECT version, (SELECT MAX(seq) FROM events WHERE instance_id = i.id), "
                            "(SELECT now_ms FROM clock WHERE id = 1), EXISTS (SELECT 1 FROM idempotency "
                            "WHERE instance_id = i.id AND pending = 1), l.owner, l.host, l.pid, l.expires_ms "
                            "FROM instances i LEFT JOIN leases l ON l.instance_id = i.id WHERE i.id = ?",
                            (instance_id,))
        if not found:
            raise UnknownInstance(f"instance {instance_id} no longer exists in {self.path}")
        version, events, now_ms, keys_pending, *held = found[0]
        free = owner is None or held[0] is None or _lease_is_free(tuple(held), owner, to_epoch_ms(wall_now()))
        return DrivePosition(version, events or 0, now_ms, bool(keys_pending), free)

    def event_count(self, instance_id: str) -> int:
        found = self._query("SELECT MAX(seq) FROM events WHERE instance_id = ?", (instance_id,))
        return int(found[0][0] or 0)

    def idempotency_record(self, instance_id: str, key: str) -> KeyRecord | None:
        """What `key` answers on the instance, or None for a new key."""
        found = self._query("SELECT key, response, pending, project_var FROM idempotency "
                            "WHERE instance_id = ? AND key = ?", (instance_id, key))
        return _key_record(found[0]) if found else None

    def pending_keys(self, instance_id: str) -> list[KeyRecord]:
        """Keys of the instance whose drive has not halted yet."""
        found = self._query("SELECT key, response, pending, project_var FROM idempotency "
                            "WHERE instance_id = ? AND pending = 1", (instance_id,))
        return [_key_record(row) for row in found]

    # -- retention ------------------------------------------------------------------------------------------------

    def purge_finished(self, older_than: datetime) -> list[str]:
        """Delete instances that finished (SUCCEEDED/FAILED) before `older_than` with everything they own;
        returns their ids."""
        cutoff_ms = to_epoch_ms(older_than)

        def purge(conn: sqlite3.Connection) -> list[str]:
            ids = [row[0] for row in conn.execute(
                "SELECT id FROM instances WHERE phase IN ('SUCCEEDED', 'FAILED') AND updated_ms < ?", (cutoff_ms,))]
            for table, column in (("events", "instance_id"), ("due_work", "instance_id"),
                                  ("idempotency", "instance_id"), ("leases", "instance_id"),
                                  ("start_keys", "instance_id"), ("instances", "id")):
                conn.executemany(f"DELETE FROM {table} WHERE {column} = ?", [(i,) for i in ids])
            return ids

        return self._write(purge)

    # -- plugin tables ------------------------------------------------------------------------------------------

    def outbox(self, topic: str | None = None, instance_id: str | None = None) -> list[OutboxEntry]:
        """Published records oldest first, optionally one topic and/or one instance."""
        from jctl.store.models import OutboxEntry

        where: list[str] = []
        params: list[Any] = []
        for column, wanted in (("topic", topic), ("instance_id", instance_id)):
            if wanted is not None:
                where.append(f"{column} = ?")
                params.append(wanted)
        sql = "SELECT seq, instance_id, state, at_ms, topic, key, headers, value FROM outbox"
        sql += (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY seq"
        return [OutboxEntry(seq, owner, state, from_epoch_ms(at_ms), name, key, json.loads(headers), json.loads(value))
                for seq, owner, state, at_ms, name, key, headers, value in self._query(sql, params)]

    def cache_get(self, key: str, now: datetime | None = None) -> tuple[bool, Any]:
        """(found, value) for a cache key; an entry past its expiry on the simulated clock (or at `now`, the reading
        journey's own clock on Temporal) is not found."""
        if now is None:
            found = self._query("SELECT value FROM cache WHERE key = ? AND expires_ms > (SELECT now_ms FROM clock)",
                                (key,))
        else:
            found = self._query("SELECT value FROM cache WHERE key = ? AND expires_ms > ?", (key, to_epoch_ms(now)))
        return (True, json.loads(found[0][0])) if found else (False, None)

    def apply_effects(self, key: str, instance_id: str, writes: Sequence[StoreWrite], now: datetime,
                      answer: str) -> str | None:
        """Apply plugin writes made outside this store's instances (a Temporal journey's trigger) at `now`, in one
        transaction with `key`, the trigger's name, and `answer`, what its activity answers. None when applied; when
        `key` was applied before (an attempt beside this one), nothing is written and the answer that stands is
        returned."""
        at_ms = to_epoch_ms(now)

        def apply(conn: sqlite3.Connection) -> str | None:
            if conn.execute("INSERT OR IGNORE INTO applied_effects (key, instance_id, applied_ms, answer) "
                            "VALUES (?, ?, ?, ?)", (key, instance_id, to_epoch_ms(wall_now()), answer)).rowcount == 0:
                (stood,), = conn.execute("SELECT answer FROM applied_effects WHERE key = ?", (key,)).fetchall()
                return str(stood)
            rows.apply_writes(conn, instance_id, writes, at_ms)
            return None

        return self._write(apply)

    def applied_answer(self, key: str) -> str | None:
        """The answer recorded with the effects applied under `key`, if any."""
        found = self._query("SELECT answer FROM applied_effects WHERE key = ?", (key,))
        return str(found[0][0]) if found else None

    def purge_applied_effects(self, older_than: datetime) -> int:
        """Forget the keys of effects applied before `older_than` (wall time), long after any retry of their
        trigger; returns how many."""
        cutoff_ms = to_epoch_ms(older_than)
        return self._write(lambda conn: conn.execute("DELETE FROM applied_effects WHERE applied_ms < ?",
                                                     (cutoff_ms,)).rowcount)

    def schedules(self) -> list[ScheduleBinding]:
        """Every schedule binding, oldest first."""
        found = self._query(f"SELECT {rows.SCHEDULE_COLUMNS} FROM schedules ORDER BY created_ms, id")
        return [rows.schedule_from_row(row) for row in found]

    def schedule(self, id_or_prefix: str) -> ScheduleBinding:
        """The binding with this id, or the only one whose id starts with it."""
        given = id_or_prefix.strip()
        found = self._query(f"SELECT {rows.SCHEDULE_COLUMNS} FROM schedules WHERE id = ? OR id LIKE ? "
                            f"ORDER BY id = ? DESC LIMIT 2", (given, given.replace("%", "") + "%", given))
        if not found or not given:
            raise UnknownInstance(f"no schedule binding id starts with {id_or_prefix!r} in {self.path}; "
                                  f"`jctl schedules` lists them")
        if len(found) > 1 and found[0][0] != given:
            raise AmbiguousInstance(f"{id_or_prefix!r} matches several schedule bindings; give more characters")
        return rows.schedule_from_row(found[0])

    def active_schedules(self, name: str, version: str, subject: str | None, start: str) -> list[str]:
        """Ids of the ACTIVE bindings with this identity key."""
        return self._retrying(lambda: rows.matching_schedules(self.conn, name, version, subject, start))

    def cancel_schedule(self, binding_id: str) -> bool:
        """Stop an ACTIVE binding (no further runs); False when it had already ended."""

        def cancel(conn: sqlite3.Connection) -> bool:
            changed = conn.execute("UPDATE schedules SET status = 'CANCELLED', next_run_ms = NULL "
                                   "WHERE id = ? AND status = 'ACTIVE'", (binding_id,)).rowcount
            conn.execute("DELETE FROM due_work WHERE instance_id = ? AND kind = 'schedule-run'", (binding_id,))
            return bool(changed)

        return self._write(cancel)

    def fire_schedule(self, work_id: int, binding: ScheduleBinding, instance: Instance, events: list[NewEvent],
                      due: list[NewDueWork], next_run: datetime | None) -> Instance | None:
        """Start one scheduled run: the new instance, the binding's run count, last run and next run, and the
        due item swapped for the next one, in one transaction. None (and the item dropped) when the binding has
        ended or moved on since it was read."""
        from jctl.store.models import NewDueWork


        def fire(conn: sqlite3.Connection) -> Instance | None:
            conn.execute("DELETE FROM due_work WHERE id = ?", (work_id,))
            runs = conn.execute("SELECT runs_executed FROM schedules WHERE id = ? AND status = 'ACTIVE'",
                                (binding.id,)).fetchone()
            if runs is None or runs[0] != binding.runs_executed:
                return None
            created = rows.insert_instance(conn, instance, events, due)
            done = binding.runs_executed + 1 >= binding.max_runs or next_run is None
            conn.execute("UPDATE schedules SET runs_executed = runs_executed + 1, last_run = ?, last_context = ?, "
                         "next_run_ms = ?, status = ? WHERE id = ?",
                         (created.id, rows.dumps(instance.context), None if done or next_run is None else to_epoch_ms(next_run),
                          "COMPLETED" if done else "ACTIVE", binding.id))
            if not done and next_run is not None:
                rows.insert_due(conn, binding.id, [NewDueWork("schedule-run", next_run, binding.start_state)])
            return created

        return self._write(fire)

    # -- due work -----------------------------------------------------------------------------------------------

    def next_due_at(self) -> datetime | None:
        earliest_ms = self._query("SELECT MIN(due_ms) FROM due_work")[0][0]
        return from_epoch_ms(earliest_ms) if earliest_ms is not None else None

    def due_work(self, now: datetime | None = None, limit: int = 100) -> list[DueWork]:
        """Work due at or before `now` (default: the simulated clock), oldest first."""
        from jctl.store.models import DueWork

        cutoff_ms = to_epoch_ms(now) if now is not None else to_epoch_ms(self.now())
        found = self._query(
            "SELECT id, instance_id, kind, due_ms, state, data FROM due_work INDEXED BY due_work_by_due "
            "WHERE due_ms <= ? ORDER BY due_ms, id LIMIT ?",
            (cutoff_ms, limit),
        )
        return [DueWork(row_id, instance_id, kind, from_epoch_ms(due_ms), state, json.loads(data))
                for row_id, instance_id, kind, due_ms, state, data in found]

    def discard_due_work(self, ids: Iterable[int]) -> int:
        """Delete due work records by id (stale timers of finished instances); returns how many went."""
        wanted = list(ids)
        return self._write(
            lambda conn: sum(conn.execute("DELETE FROM due_work WHERE id = ?", (row_id,)).rowcount for row_id in wanted)
        )

    # -- leases -------------------------------------------------------------------------------------------------

    def acquire_lease(self, instance_id: str, owner: str, ttl: timedelta = DEFAULT_LEASE_TTL) -> bool:
        """Claim `instance_id` for `owner` until wall time + ttl; False while another live runner holds it."""
        return self._write(lambda conn: _claim_lease(conn, instance_id, owner, ttl))

    def lease_holder(self, instance_id: str) -> str | None:
        """The owner of an unexpired lease on the instance, if any."""
        found = self._query(
            "SELECT owner FROM leases WHERE instance_id = ? AND expires_ms > ?", (instance_id, to_epoch_ms(wall_now()))
        )
        return str(found[0][0]) if found else None

    def release_lease(self, instance_id: str, owner: str) -> None:
        self._write(
            lambda conn: conn.execute("DELETE FROM leases WHERE instance_id = ? AND owner = ?", (instance_id, owner))
        )


def _checkpoint(path: Path) -> None:
    try:  # mode=rw: a store removed meanwhile is not created again
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=rw", uri=True, timeout=BUSY_TIMEOUT_S,
                               isolation_level=None, check_same_thread=False)
    except (sqlite3.Error, OSError, ValueError):
        return
    try:
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
    except sqlite3.Error:
        pass  # busy or gone: the next checkpoint (or SQLite's own, past AUTOCHECKPOINT_PAGES) copies it
    finally:
        conn.close()


def _claim_lease(conn: sqlite3.Connection, instance_id: str, owner: str, ttl: timedelta, hold: bool = True) -> bool:
    """Take the lease for `owner` unless another live runner holds it (`hold` False: only check that)."""
    host, pid = _owner_host_pid(owner)
    wall_ms = to_epoch_ms(wall_now())
    held = conn.execute(
        "SELECT owner, host, pid, expires_ms FROM leases WHERE instance_id = ?", (instance_id,)
    ).fetchone()
    if held is not None and not _lease_is_free(held, owner, wall_ms):
        return False
    if not hold:
        return True
    conn.execute(
        "INSERT OR REPLACE INTO leases (instance_id, owner, host, pid, expires_ms, acquired_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (instance_id, owner, host, pid, wall_ms + ttl // timedelta(milliseconds=1),
         format_rfc3339(from_epoch_ms(wall_ms))),
    )
    return True


def _key_record(row: tuple[Any, ...]) -> KeyRecord:
    from jctl.store.models import KeyRecord

    key, response, pending, project_var = row
    return KeyRecord(key, None if pending else json.loads(response), project_var)


def _start_record(record: KeyRecord) -> KeyRecord:
    """A start's key is stored under a prefix no signal key can have, so the two never answer for each other."""
    import dataclasses

    return dataclasses.replace(record, key=START_KEY_PREFIX + record.key)


def _refuse_hard_links(target: Path) -> None:
    """SQLite finds its WAL and locks by path: two names of one file would each get their own WAL, and writes
    acknowledged through one name would be lost through the other. Refused before SQLite touches the file."""
    try:
        links = target.stat().st_nlink
    except OSError:
        return  # a new store (or unreadable: connect reports it)
    if links > 1:
        raise StoreError(f"the store {target} has {links} hard links: SQLite would keep a separate write-ahead log "
                         f"per name and lose writes; use one name for it (copy it with `cp` to make it independent)")


# -- error classification and lease ownership ------------------------------------------------------------------


def _listing_query(select: str, phase: str | None, journey: str | None, limit: int | None, tags: Sequence[str],
                   attributes: Mapping[str, str] | None) -> tuple[str, list[object]]:
    """`select` narrowed to a phase, a journey name, instances carrying every one of `tags` and `attributes`;
    newest first, at most `limit` rows."""
    where: list[str] = []
    params: list[object] = []
    for tag in tags:
        where.append("EXISTS (SELECT 1 FROM json_each(i.tags) WHERE json_each.value = ?)")
        params.append(tag)
    for key, value in (attributes or {}).items():
        where.append("EXISTS (SELECT 1 FROM json_each(i.attributes) WHERE json_each.key = ? AND json_each.value = ?)")
        params += [key, value]
    if phase is not None:
        where.append("i.phase = ?")
        params.append(phase)
    if journey is not None:
        where.append("i.journey_name = ?")
        params.append(journey)
    sql = select + (" WHERE " + " AND ".join(where) if where else "")
    sql += " ORDER BY i.created_ms DESC, i.created_seq DESC"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    return sql, params


def _is_busy(exc: sqlite3.DatabaseError) -> bool:
    text = str(exc).lower()
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text)


def _explain(path: Path, exc: sqlite3.DatabaseError) -> str:
    if "not a database" in str(exc) or "malformed" in str(exc):
        return f"{path} is not a usable jctl store ({exc}); point JCTL_DB at another file or move this one away"
    return f"store {path}: {exc}"


def _owner_host_pid(owner: str) -> tuple[str | None, int | None]:
    parts = owner.rsplit(":", 2)
    if len(parts) == 3 and parts[1].isdigit():
        return parts[0], int(parts[1])
    return None, None


def _lease_is_free(held: tuple[Any, ...], owner: str, wall_ms: int) -> bool:
    """Ours already, expired, or held by a process on this host that has died (a SIGKILLed runner)."""
    held_owner, host, pid, expires_ms = held
    if held_owner == owner or expires_ms <= wall_ms:
        return True
    import socket

    return host == socket.gethostname() and pid is not None and not process_alive(pid)
