"""Tests for jctl.store on real SQLite files: migrations, instances, transitions, clock, due work, leases.

The crash and concurrency tests run real child processes against one store file (SIGKILL at random moments, two
processes racing for the same instance version).
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from jctl.store import (
    AmbiguousInstance,
    ClockError,
    ConflictError,
    Instance,
    KeyRecord,
    NewDueWork,
    NewEvent,
    Store,
    StoreError,
    UnknownInstance,
    default_db_path,
)
from jctl.store import db as store_db
from jctl.store.migrations import MIGRATIONS, migrate

REPO = Path(__file__).resolve().parents[1]
UTC = timezone.utc


@pytest.fixture
def store(tmp_path: Path):
    opened = Store.open(tmp_path / "store" / "jctl.db")
    yield opened
    opened.close()


def make_instance(journey: str = "order", instance_id: str = "", **changes) -> Instance:
    base = Instance(
        id=instance_id,
        journey_name=journey,
        kind="Journey",
        definition={"apiVersion": "v1", "kind": "Journey", "metadata": {"name": journey}, "spec": {"start": "a"}},
        phase="RUNNING",
        current_state="a",
        cursor={"active": ["a"]},
        context={"n": 0},
    )
    return replace(base, **changes)


def count(path: Path, sql: str, params: tuple = ()) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute(sql, params).fetchone()[0]


# -- opening and migrations --------------------------------------------------------------------------------------


def test_open_creates_directories_wal_and_one_migration_record(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "jctl.db"
    with Store.open(path) as first:
        assert first.db.journal_mode == "wal"
        assert first.conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 10_000
    with Store.open(path) as second:
        assert migrate(second.conn) == 0
        versions = [row[0] for row in second.conn.execute("SELECT version FROM migrations")]
    assert versions == sorted(MIGRATIONS)  # numbers are assigned per change, so there may be gaps


def test_processes_opening_a_new_store_at_once_migrate_it_once(tmp_path: Path) -> None:
    path = tmp_path / "race" / "jctl.db"
    script = "import sys; from jctl.store import Store; Store.open(sys.argv[1]).close(); print('ok')"
    children = [run_python(script, str(path)) for _ in range(6)]
    outputs = [child.communicate(timeout=60) for child in children]
    assert [child.returncode for child in children] == [0] * 6, outputs
    assert count(path, "SELECT COUNT(*) FROM migrations") == len(MIGRATIONS)
    assert count(path, "SELECT COUNT(*) FROM clock") == 1


def test_serve_start_keys_move_into_the_runners_start_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Migration 9: what `jctl serve` recorded in its own table (with or without the runner's key beside it)
    becomes the runner's start key with the request hash, its answer the start's idempotency record."""
    from jctl.store.models import START_KEY_PREFIX, StartKey

    path = tmp_path / "jctl.db"
    with monkeypatch.context() as before_9:
        before_9.delitem(MIGRATIONS, 9)
        with Store.open(path) as old:
            first = old.create_instance(make_instance(), [NewEvent("journey.started")])
            second = old.create_instance(make_instance(), [NewEvent("journey.started")])
    with sqlite3.connect(path) as conn:  # serve of migration 6 to 8 also gave the key to the runner for `second`
        conn.execute("INSERT INTO start_keys VALUES ('order/k2', ?)", (second.id,))
        conn.execute("INSERT INTO idempotency VALUES (?, ?, ?, '2026-01-01T00:00:00.000Z', 0, NULL)",
                     (second.id, START_KEY_PREFIX + "order/k2", json.dumps({"journeyId": "second"})))
        conn.executemany("INSERT INTO start_idempotency VALUES (?, ?, ?, ?, ?, ?, ?)", [
            ("order", "k1", "hash-1", first.id, 202, json.dumps({"journeyId": first.id}), 1_000),
            ("order", "k2", "hash-2", second.id, 200, json.dumps({"journeyId": "second"}), 2_000)])
    with Store.open(path) as store:
        assert store.started_by_key("order/k1") == StartKey(first.id, "hash-1")
        assert store.started_by_key("order/k2") == StartKey(second.id, "hash-2")
        assert store.idempotency_record(first.id, START_KEY_PREFIX + "order/k1").response == {"journeyId": first.id}
        assert store.idempotency_record(second.id, START_KEY_PREFIX + "order/k2").response == {"journeyId": "second"}
        tables = {row[0] for row in store.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "start_idempotency" not in tables and "start_keys" in tables


def test_store_from_a_newer_jctl_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "jctl.db"
    Store.open(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO migrations VALUES (999, 'future', '2030-01-01T00:00:00.000Z')")
    with pytest.raises(StoreError, match="newer than this jctl"):
        Store.open(path)


def test_a_file_that_is_not_a_store_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("these are my notes, not a database\n" * 200)
    with pytest.raises(StoreError, match="not a usable jctl store"):
        Store.open(path)


def test_default_path_is_under_cwd_unless_jctl_db_is_set(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("JCTL_DB", raising=False)
    assert default_db_path() == tmp_path / ".jctl" / "jctl.db"
    monkeypatch.setenv("JCTL_DB", str(tmp_path / "elsewhere.db"))
    assert default_db_path() == tmp_path / "elsewhere.db"
    with Store.open() as opened:
        assert opened.path == tmp_path / "elsewhere.db"
    assert (tmp_path / "elsewhere.db").exists()


# -- instances ---------------------------------------------------------------------------------------------------


def test_create_and_get_round_trips_every_field(store: Store) -> None:
    original = make_instance(
        tags=["vip"], attributes={"region": "eu"}, mocks={"http": []}, output={"ok": True},
        error={"code": "X", "reason": "y"}, context={"when": "2025-01-01", "items": [1, 2]},
    )
    created = store.create_instance(original, [NewEvent("started", "a", {"by": "test"})])
    assert len(created.id) == 32 and created.version == 0
    assert created.created_at == created.updated_at == store.now()
    loaded = store.get_instance(created.id)
    assert loaded == created
    assert store.history(created.id)[0].type == "started"


def test_get_by_prefix_unknown_and_ambiguous(store: Store) -> None:
    first = store.create_instance(make_instance(instance_id="abc123" + "0" * 26), [])
    store.create_instance(make_instance(instance_id="abd456" + "0" * 26), [])
    assert store.get_instance("abc").id == first.id
    assert store.get_instance("ABC1").id == first.id
    with pytest.raises(AmbiguousInstance, match="abc123.*abd456"):
        store.get_instance("ab")
    with pytest.raises(UnknownInstance, match="'ffff'"):
        store.get_instance("ffff")
    with pytest.raises(UnknownInstance, match="no instance id given"):
        store.get_instance("  ")
    with pytest.raises(ConflictError, match="already exists"):
        store.create_instance(make_instance(instance_id=first.id), [])


def test_list_instances_newest_first_with_filters(store: Store) -> None:
    made = []
    for index in range(5):
        journey = "order" if index % 2 == 0 else "refund"
        made.append(store.create_instance(make_instance(journey), []))
        if index == 2:
            store.advance_clock(timedelta(seconds=1))
    done = store.commit_transition(replace(made[1], phase="SUCCEEDED"), expected_version=0, events=[])
    assert [i.id for i in store.list_instances()] == [i.id for i in reversed(made)]
    assert [i.id for i in store.list_instances(journey="order")] == [made[4].id, made[2].id, made[0].id]
    assert [i.id for i in store.list_instances(phase="SUCCEEDED")] == [done.id]
    assert [i.id for i in store.list_instances(phase="RUNNING", journey="refund")] == [made[3].id]
    assert len(store.list_instances(limit=2)) == 2


# -- transitions -------------------------------------------------------------------------------------------------


def test_commit_writes_instance_events_due_work_and_idempotency_together(store: Store) -> None:
    start = store.now()
    created = store.create_instance(
        make_instance(), [NewEvent("started", "a")],
        [NewDueWork("deadline", start + timedelta(minutes=5)), NewDueWork("timer", start + timedelta(seconds=1), "a")],
    )
    store.advance_clock(timedelta(seconds=2))
    moved = store.commit_transition(
        replace(created, current_state="b", context={"n": 1}),
        expected_version=0,
        events=[NewEvent("exited", "a"), NewEvent("entered", "b", {"why": "timer"})],
        schedule=[NewDueWork("step-timeout", start + timedelta(minutes=1), "b", {"onTimeout": "c"})],
        cancel_due=["timer"],
        idempotency=KeyRecord("key-1", {"status": "ok"}),
    )
    assert moved.version == 1 and moved.updated_at == start + timedelta(seconds=2)
    assert store.get_instance(created.id) == moved
    events = store.history(created.id)
    assert [(e.seq, e.type, e.state) for e in events] == [(1, "started", "a"), (2, "exited", "a"), (3, "entered", "b")]
    assert events[2].at == start + timedelta(seconds=2) and events[2].data == {"why": "timer"}
    due = store.due_work(start + timedelta(hours=1))
    assert [(w.kind, w.state, w.data) for w in due] == [("step-timeout", "b", {"onTimeout": "c"}), ("deadline", None, {})]
    assert store.idempotency_record(created.id, "key-1").response == {"status": "ok"}
    assert store.idempotency_record(created.id, "key-2") is None


def test_cancel_due_true_removes_all_due_work_of_that_instance_only(store: Store) -> None:
    later = store.now() + timedelta(minutes=1)
    mine = store.create_instance(make_instance(), [], [NewDueWork("timer", later), NewDueWork("deadline", later)])
    other = store.create_instance(make_instance(), [], [NewDueWork("timer", later)])
    store.commit_transition(replace(mine, phase="FAILED"), expected_version=0, events=[], cancel_due=True)
    assert [w.instance_id for w in store.due_work(later)] == [other.id]


def snapshot(path: Path) -> dict:
    with sqlite3.connect(path) as conn:
        return {table: conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()
                for table in ("instances", "events", "due_work", "idempotency", "definitions")}


def test_version_conflict_writes_nothing(store: Store) -> None:
    created = store.create_instance(make_instance(), [NewEvent("started")])
    store.commit_transition(created, expected_version=0, events=[NewEvent("moved")])
    before = snapshot(store.path)
    with pytest.raises(ConflictError, match="expected version 0, the store has 1"):
        store.commit_transition(
            replace(created, definition={"changed": True}, context={"lost": True}), expected_version=0,
            events=[NewEvent("stale")], schedule=[NewDueWork("timer", store.now())], cancel_due=True,
            idempotency=KeyRecord("k", {}),
        )
    assert snapshot(store.path) == before


def test_reused_idempotency_key_and_failing_payload_write_nothing(store: Store) -> None:
    created = store.create_instance(make_instance(), [])
    moved = store.commit_transition(created, expected_version=0, events=[NewEvent("a")],
                                    idempotency=KeyRecord("k", {"r": 1}))
    before = snapshot(store.path)
    with pytest.raises(ConflictError, match="idempotency key 'k' was already used"):
        store.commit_transition(moved, expected_version=1, events=[NewEvent("b")], idempotency=KeyRecord("k", {"r": 2}))
    # The events are serialised after the instance row is updated: the failure must roll that update back.
    with pytest.raises(StoreError, match="not JSON"):
        store.commit_transition(moved, expected_version=1, events=[NewEvent("b", data={"x": object()})])
    assert snapshot(store.path) == before
    assert store.idempotency_record(created.id, "k").response == {"r": 1}


def test_commit_that_changes_name_kind_or_definition_writes_them(store: Store) -> None:
    """A transition compares the identity columns instead of rewriting them; one that does change them still does."""
    created = store.create_instance(make_instance(), [NewEvent("started")])
    same = store.commit_transition(replace(created, context={"step": 1}), expected_version=0, events=[])
    changed = replace(same, journey_name="renamed", kind="Api", definition={"changed": True}, context={"step": 2})
    store.commit_transition(changed, expected_version=1, events=[NewEvent("moved")])
    stored = store.get_instance(created.id)
    assert (stored.journey_name, stored.kind, stored.definition, stored.context, stored.version) == (
        "renamed", "Api", {"changed": True}, {"step": 2}, 2)
    with pytest.raises(ConflictError, match="expected version 1, the store has 2"):
        store.commit_transition(changed, expected_version=1, events=[])


def test_write_ahead_log_is_checkpointed_into_the_database_file_every_so_many_writes(
        store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every CHECKPOINT_EVERY write transactions of a handle, a thread copies the log into the database file: a copy
    of that file alone (no -wal beside it) holds the instance as committed up to then."""
    monkeypatch.setattr(store_db, "CHECKPOINT_EVERY", 4)

    def version_in_database_file() -> int | None:
        copy = tmp_path / f"copy-{time.monotonic_ns()}.db"
        copy.write_bytes(store.path.read_bytes())
        with sqlite3.connect(copy) as conn:
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
            found = conn.execute("SELECT version FROM instances").fetchone() if "instances" in tables else None
        return found[0] if found else None

    moved = store.create_instance(make_instance(), [NewEvent("started")])
    for version in range(2):
        moved = store.commit_transition(moved, expected_version=version, events=[NewEvent("moved")])
    assert version_in_database_file() is None  # three writes: all of them still only in the log
    moved = store.commit_transition(moved, expected_version=2, events=[NewEvent("moved")])
    assert store._checkpointer is not None
    store._checkpointer.join(10)
    assert version_in_database_file() == 3
    assert [event.type for event in store.history(moved.id)] == ["started", "moved", "moved", "moved"]


def test_commit_to_unknown_instance_is_reported(store: Store) -> None:
    with pytest.raises(UnknownInstance, match="does not exist"):
        store.commit_transition(make_instance(instance_id="f" * 32), expected_version=0, events=[])


def test_identical_definitions_are_stored_once(store: Store) -> None:
    for _ in range(3):
        store.create_instance(make_instance(), [])
    store.create_instance(make_instance(definition={"other": 1}), [])
    assert count(store.path, "SELECT COUNT(*) FROM definitions") == 2


# -- clock -------------------------------------------------------------------------------------------------------


def test_clock_starts_at_wall_time_moves_forward_only_and_persists(tmp_path: Path) -> None:
    path = tmp_path / "jctl.db"
    with Store.open(path) as first:
        start = first.now()
        assert abs((datetime.now(UTC) - start).total_seconds()) < 5
        assert first.advance_clock(timedelta(hours=1)) == start + timedelta(hours=1)
        assert first.set_clock(start + timedelta(hours=1)) == start + timedelta(hours=1)  # equal is fine
        with pytest.raises(ClockError, match="only move forward"):
            first.set_clock(start)
        with pytest.raises(ClockError, match="negative"):
            first.advance_clock(timedelta(seconds=-1))
        target = datetime(2100, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)
        assert first.set_clock(target) == target.replace(microsecond=123000)
    with Store.open(path) as second:
        assert second.now() == datetime(2100, 1, 1, 12, 0, 0, 123000, tzinfo=UTC)
        with pytest.raises(ValueError, match="timezone"):
            second.set_clock(datetime(2200, 1, 1))


# -- due work ----------------------------------------------------------------------------------------------------


def test_due_work_is_ordered_by_due_time_then_id_and_respects_now_and_limit(store: Store) -> None:
    base = store.now()
    instance = store.create_instance(make_instance(), [])
    offsets = [30, 10, 20, 10, 50]
    store.commit_transition(
        instance, expected_version=0, events=[],
        schedule=[NewDueWork("timer", base + timedelta(seconds=s), data={"n": n}) for n, s in enumerate(offsets)],
    )
    assert store.due_work() == []
    assert store.next_due_at() == base + timedelta(seconds=10)
    store.advance_clock(timedelta(seconds=30))
    assert [w.data["n"] for w in store.due_work()] == [1, 3, 2, 0]
    assert [w.data["n"] for w in store.due_work(limit=2)] == [1, 3]
    assert [w.data["n"] for w in store.due_work(base + timedelta(minutes=5))] == [1, 3, 2, 0, 4]
    first = store.due_work()[0]
    assert first.due_at == base + timedelta(seconds=10) and first.instance_id == instance.id
    assert store.discard_due_work([first.id]) == 1
    assert [w.data["n"] for w in store.due_work()] == [3, 2, 0]


def test_next_due_at_is_none_without_due_work(store: Store) -> None:
    assert store.next_due_at() is None


# -- leases ------------------------------------------------------------------------------------------------------


def test_lease_held_by_a_live_owner_blocks_others_until_released(store: Store) -> None:
    host = socket.gethostname()
    me, other = f"{host}:{os.getpid()}:aaaa", f"{host}:{os.getpid()}:bbbb"
    assert store.acquire_lease("i1", me)
    assert store.acquire_lease("i1", me)  # the same owner renews
    assert not store.acquire_lease("i1", other)
    store.release_lease("i1", other)  # not the holder: no effect
    assert not store.acquire_lease("i1", other)
    assert store.lease_holder("i1") == me
    store.release_lease("i1", me)
    assert store.lease_holder("i1") is None
    assert store.acquire_lease("i1", other)


def test_expired_lease_can_be_taken(store: Store) -> None:
    host = socket.gethostname()
    assert store.acquire_lease("i1", f"{host}:{os.getpid()}:old", ttl=timedelta(milliseconds=-1))
    assert store.acquire_lease("i1", f"{host}:{os.getpid()}:new")


def test_lease_of_a_dead_process_on_this_host_can_be_taken(store: Store) -> None:
    dead_pid = subprocess.Popen([sys.executable, "-c", "pass"])
    dead_pid.wait()
    host = socket.gethostname()
    assert store.acquire_lease("i1", f"{host}:{dead_pid.pid}:gone", ttl=timedelta(hours=1))
    assert store.acquire_lease("i2", "no-host-or-pid")  # owners we cannot parse still lease free instances
    assert not store.acquire_lease("i2", f"{host}:{os.getpid()}:alive")
    assert store.acquire_lease("i1", f"{host}:{os.getpid()}:alive")
    # On another host we cannot check the pid, so only expiry frees the lease.
    assert store.acquire_lease("i3", f"other-host:{dead_pid.pid}:gone", ttl=timedelta(hours=1))
    assert not store.acquire_lease("i3", f"{host}:{os.getpid()}:alive")


# -- crashes and concurrency (real child processes) ---------------------------------------------------------------


def run_python(script: str, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )


CRASHING_WRITER = """
    import random, sys
    from dataclasses import replace
    from datetime import timedelta
    from jctl.store import Instance, KeyRecord, NewDueWork, NewEvent, Store

    store = Store.open(sys.argv[1])

    def create():
        instance = Instance(id="", journey_name="crash", kind="Journey", definition={"spec": {}}, phase="RUNNING",
                            current_state="s0", cursor={}, context={"n": 0})
        due = [NewDueWork("timer", store.now() + timedelta(seconds=1), "s0", {"version": 0})]
        return store.create_instance(instance, [NewEvent("started", "s0")], due)

    ids = [i.id for i in store.list_instances()] or [create().id for _ in range(3)]
    print("ready", flush=True)
    while True:
        if random.random() < 0.02:
            ids.append(create().id)
        current = store.get_instance(random.choice(ids))
        version = current.version + 1
        store.commit_transition(
            replace(current, current_state=f"s{version}", context={"n": version}),
            expected_version=current.version,
            events=[NewEvent("exited", current.current_state), NewEvent("transition", f"s{version}", {"v": version})],
            schedule=[NewDueWork("timer", store.now() + timedelta(seconds=1), f"s{version}", {"version": version})],
            cancel_due=True,
            idempotency=KeyRecord(f"step-{version}", {"version": version}),
        )
        if random.random() < 0.05:
            store.advance_clock(timedelta(milliseconds=10))
"""


def assert_store_consistent(path: Path) -> int:
    """Check the invariants every committed transition keeps; returns the number of transitions."""
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    transitions = 0
    with Store.open(path) as store:
        for instance in store.list_instances():
            events = store.history(instance.id)
            assert [e.seq for e in events] == list(range(1, len(events) + 1)), instance.id
            assert instance.version == sum(e.type == "transition" for e in events)
            assert instance.context == {"n": instance.version}
            due = [w for w in store.due_work(store.now() + timedelta(days=1), limit=10_000)
                   if w.instance_id == instance.id]
            assert [w.data["version"] for w in due] == [instance.version]
            for version in range(1, instance.version + 1):
                assert store.idempotency_record(instance.id, f"step-{version}").response == {"version": version}
            transitions += instance.version
    return transitions


def test_sigkill_at_random_moments_leaves_a_consistent_store(tmp_path: Path) -> None:
    path = tmp_path / "crash.db"
    random.seed(7)
    progress = []
    for _ in range(6):
        child = run_python(CRASHING_WRITER, str(path))
        assert child.stdout.readline().strip() == "ready", child.stderr.read()
        try:
            child.wait(timeout=random.uniform(0.05, 0.4))
        except subprocess.TimeoutExpired:
            child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        assert child.returncode == -signal.SIGKILL, child.stderr.read()
        progress.append(assert_store_consistent(path))
    print(f"transitions after each kill: {progress}")
    assert progress[-1] > 0 and progress == sorted(progress)


RACER = """
    import json, sys, time
    from dataclasses import replace
    from jctl.store import ConflictError, KeyRecord, NewEvent, Store

    path, target_id, mine_id, other_id, rounds, me = sys.argv[1:7]
    store = Store.open(path)
    target = store.get_instance(target_id)
    mine = store.get_instance(mine_id)
    won, lost = [], []
    for round_number in range(int(rounds)):
        while store.get_instance(other_id).version < round_number:  # both attempt each round together
            time.sleep(0.0002)
        try:
            store.commit_transition(
                replace(target, context={"winner": me, "round": round_number}), expected_version=round_number,
                events=[NewEvent("transition", data={"round": round_number, "by": me})],
            )
            won.append(round_number)
        except ConflictError:
            lost.append(round_number)
        mine = store.commit_transition(mine, expected_version=round_number, events=[NewEvent("attempted")])
    print(json.dumps({"won": won, "lost": lost}))
"""


def test_two_processes_racing_for_each_version_exactly_one_wins(store: Store) -> None:
    rounds = 200
    target = store.create_instance(make_instance(), [])
    marker_a = store.create_instance(make_instance("marker"), [])
    marker_b = store.create_instance(make_instance("marker"), [])
    children = [
        run_python(RACER, str(store.path), target.id, marker_a.id, marker_b.id, str(rounds), "a"),
        run_python(RACER, str(store.path), target.id, marker_b.id, marker_a.id, str(rounds), "b"),
    ]
    results = []
    for child in children:
        out, err = child.communicate(timeout=300)
        assert child.returncode == 0, err
        assert "locked" not in err
        results.append(json.loads(out))
    won_a, won_b = set(results[0]["won"]), set(results[1]["won"])
    print(f"wins: a={len(won_a)} b={len(won_b)}")
    assert won_a.isdisjoint(won_b) and won_a | won_b == set(range(rounds))
    assert set(results[0]["lost"]) == won_b and set(results[1]["lost"]) == won_a
    final = store.get_instance(target.id)
    assert final.version == rounds
    rounds_seen = [e.data["round"] for e in store.history(target.id)]
    assert rounds_seen == list(range(rounds))


SIGNALLER = """
    import sys
    from dataclasses import replace
    from jctl.store import ConflictError, KeyRecord, NewEvent, Store

    path, target_id, me, count = sys.argv[1:5]
    store = Store.open(path)
    for n in range(int(count)):
        key = f"{me}-{n}"
        while store.idempotency_record(target_id, key) is None:  # reload and retry until the signal is in
            current = store.get_instance(target_id)
            try:
                store.commit_transition(
                    replace(current, context={**current.context, key: True}), expected_version=current.version,
                    events=[NewEvent("signal", data={"key": key})], idempotency=KeyRecord(key, {"accepted": key}),
                )
            except ConflictError:
                pass
    print("done")
"""


def test_concurrent_signals_with_reload_and_retry_are_never_lost(store: Store) -> None:
    target = store.create_instance(make_instance(context={}), [])
    children = [run_python(SIGNALLER, str(store.path), target.id, name, "50") for name in "abcd"]
    for child in children:
        out, err = child.communicate(timeout=300)
        assert child.returncode == 0 and out.strip() == "done", err
    keys = [f"{name}-{n}" for name in "abcd" for n in range(50)]
    final = store.get_instance(target.id)
    assert final.version == len(keys)
    assert sorted(final.context) == sorted(keys)
    assert sorted(e.data["key"] for e in store.history(target.id)) == sorted(keys)


def hold_write_lock(path: Path, seconds: float) -> threading.Thread:
    """Hold SQLite's write lock from another connection for `seconds`, as a slow process would."""
    locked = threading.Event()

    def hold() -> None:
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        locked.set()
        time.sleep(seconds)
        conn.execute("COMMIT")
        conn.close()

    holder = threading.Thread(target=hold)
    holder.start()
    assert locked.wait(5)
    return holder


def test_a_lock_held_longer_than_the_busy_timeout_is_retried_not_surfaced(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(store_db, "BUSY_TIMEOUT_S", 0.05)
    with Store.open(tmp_path / "jctl.db") as opened:
        start = opened.now()
        holder = hold_write_lock(opened.path, 0.6)
        began = time.monotonic()
        assert opened.advance_clock(timedelta(seconds=1)) == start + timedelta(seconds=1)
        assert time.monotonic() - began >= 0.4  # it really waited for the other writer
        holder.join()


def test_a_lock_that_is_never_released_ends_with_a_clear_message(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(store_db, "BUSY_TIMEOUT_S", 0.05)
    monkeypatch.setattr(store_db, "RETRY_FOR_S", 0.2)
    with Store.open(tmp_path / "jctl.db") as opened:
        holder = hold_write_lock(opened.path, 1.0)
        with pytest.raises(StoreError, match="stayed locked by another process"):
            opened.advance_clock(timedelta(seconds=1))
        holder.join()
