"""The runner commits a chain of pure transitions (steps that only compute) as one write transaction: each keeps its
own events, in order; a step that made an effect (an HTTP call) is committed before the next step runs; a process
killed in the middle of a chain stores none of the chain's uncommitted steps and the resumed drive ends with the
same history as a run that was never interrupted."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import REPO, jsonata, write_journey
from jctl.engine.errors import InstanceBusy
from jctl.engine.runner import BATCH_LIMIT, Runner
from jctl.store import Store


CHAIN_STATES = {
    "first": {"type": "transform", "transform": {"mapper": jsonata('{"n": 1}'), "target": {"kind": "var"},
                                                 "resultVar": "count"}, "next": "second"},
    "second": {"type": "transform", "transform": {"mapper": jsonata("{'n': context.count.n + 1}"),
                                                  "target": {"kind": "var"}, "resultVar": "count"},
               "next": "route"},
    "route": {"type": "choice", "choices": [{"when": {"predicate": jsonata("context.count.n = 2")}, "next": "ask"}],
              "default": "broken"},
    "ask": {"type": "wait", "wait": {"channel": "manual", "input": {"schema": {"type": "object"}}}, "next": "record"},
    "record": {"type": "transform", "transform": {"mapper": jsonata("context.payload.answer"),
                                                  "target": {"kind": "var"}, "resultVar": "answer"},
               "next": "done"},
    "done": {"type": "succeed", "outputVar": "answer"},
    "broken": {"type": "fail", "errorCode": "BROKEN", "reason": "the count went wrong"},
}

LOOP_STATES = {
    "bump": {"type": "transform", "transform": {"mapper": jsonata("{'n': context.n + 1}"), "target": {}},
             "next": "more"},
    "more": {"type": "choice", "choices": [{"when": {"predicate": jsonata("context.n < 150")}, "next": "bump"}],
             "default": "finish"},
    "finish": {"type": "succeed"},
}
KILLED_AT = 2 * BATCH_LIMIT + 20  # transitions worked out when the child dies: the third batch is half built


class Commits:
    """What the runner hands the store, one entry per write transaction of transitions: the steps it holds."""

    def __init__(self, store: Store):
        self.sizes: list[int] = []
        self.transactions = 0
        commit = store.commit_transitions

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.sizes.append(len(kwargs["steps"]))
            return commit(*args, **kwargs)

        store.commit_transitions = counted  # type: ignore[method-assign]
        store.conn.set_trace_callback(self._traced)

    def _traced(self, statement: str) -> None:
        self.transactions += statement.startswith("BEGIN IMMEDIATE")


def stored_history(store: Store, instance_id: str) -> list[tuple[int, str, str | None, dict[str, Any]]]:
    return [(e.seq, e.type, e.state, e.data) for e in store.history(instance_id)]


def test_a_pure_chain_lands_as_one_commit_with_its_events_in_order(tmp_path: Path):
    store = Store.open(tmp_path / "jctl.db")
    commits = Commits(store)
    runner = Runner(store)
    started = runner.start(write_journey(tmp_path, CHAIN_STATES, "first"), {})
    # the new instance, first + second + route and the pause at ask: one write transaction
    assert commits.sizes == [4] and commits.transactions == 1
    instance = store.get_instance(started["journeyId"])
    assert instance.version == 4 and instance.current_state == "ask" and instance.context["count"] == {"n": 2}
    assert [(t, s) for _, t, s, _ in stored_history(store, instance.id)] == [
        ("journey.started", "first"), ("state.completed", "first"), ("state.completed", "second"),
        ("state.completed", "route"), ("step.waiting", "ask")]
    assert store.lease_holder(instance.id) is None  # released by the chain's commit
    assert [w.kind for w in store.due_work()] == []  # the `run` item of the start went with the pause

    commits.sizes.clear()
    commits.transactions = 0
    outcome = runner.signal(instance.id, {"answer": 42})
    assert outcome["phase"] == "SUCCEEDED" and outcome["output"] == 42
    # signal.received + record + done in one commit, which checks the lease too: one write transaction
    assert commits.sizes == [3] and commits.transactions == 1
    history = stored_history(store, instance.id)
    assert [seq for seq, *_ in history] == list(range(1, 9))
    assert [(t, s) for _, t, s, _ in history[5:]] == [
        ("signal.received", "ask"), ("state.completed", "record"), ("journey.succeeded", "done")]
    assert store.get_instance(instance.id).version == 7


def test_a_key_recorded_in_a_chain_is_answered_by_its_last_transition(tmp_path: Path):
    store = Store.open(tmp_path / "jctl.db")
    commits = Commits(store)
    runner = Runner(store)
    waiting = runner.start(write_journey(tmp_path, CHAIN_STATES, "first"), {})["journeyId"]
    commits.sizes.clear()
    outcome = runner.signal(waiting, {"answer": 42}, idempotency_key="k1")
    assert outcome["phase"] == "SUCCEEDED" and commits.sizes == [3]
    record = store.idempotency_record(waiting, "k1")
    assert record is not None and record.response == outcome  # settled in the commit that recorded it
    assert store.pending_keys(waiting) == []
    assert runner.signal(waiting, {"answer": 7}, idempotency_key="k1") == outcome


def test_long_pure_chains_commit_in_bounded_batches(tmp_path: Path):
    store = Store.open(tmp_path / "jctl.db")
    commits = Commits(store)
    runner = Runner(store)
    started = runner.start(write_journey(tmp_path, LOOP_STATES, "bump"), {"n": 0})
    assert started["phase"] == "SUCCEEDED"
    transitions = 150 * 2 + 1
    assert sum(commits.sizes) == transitions and max(commits.sizes) == BATCH_LIMIT
    assert len(commits.sizes) == -(-transitions // BATCH_LIMIT)
    assert store.get_instance(started["journeyId"]).version == transitions


KILL_SCRIPT = """
import os, signal, sys
from pathlib import Path
from jctl.engine.runner import Runner
from jctl.store import Store
runner = Runner(Store.open(sys.argv[1]), uuid_seed="s")
added = runner._add
seen = []
def add(*args, **kwargs):
    seen.append(1)
    if len(seen) == int(sys.argv[3]):
        os.kill(os.getpid(), signal.SIGKILL)  # dies holding worked-out transitions that are not committed yet
    return added(*args, **kwargs)
runner._add = add
runner.start(Path(sys.argv[2]), {"n": 0})
"""


def test_a_drive_killed_in_a_pure_chain_resumes_to_the_uninterrupted_history(tmp_path: Path):
    spec = write_journey(tmp_path, LOOP_STATES, "bump")
    whole = Store.open(tmp_path / "whole.db")
    uninterrupted = Runner(whole, uuid_seed="s").start(spec, {"n": 0})
    assert uninterrupted["phase"] == "SUCCEEDED"

    db = tmp_path / "killed.db"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    killed = subprocess.run([sys.executable, "-c", KILL_SCRIPT, str(db), str(spec), str(KILLED_AT)], env=env,
                            timeout=120)
    assert killed.returncode == -signal.SIGKILL
    store = Store.open(db)
    [instance] = store.list_instances()
    # two whole batches are stored, nothing of the third: each transition's event is there or none is
    assert instance.phase == "RUNNING" and instance.version == 2 * BATCH_LIMIT
    assert len(store.history(instance.id)) == 1 + instance.version
    assert [w.kind for w in store.due_work()] == ["run"]

    lines = Runner(store, uuid_seed="s").tick(until_idle=True)
    assert lines and lines[0].startswith("ran")
    resumed = store.get_instance(instance.id)
    assert resumed.phase == "SUCCEEDED" and resumed.output == uninterrupted["output"] == {"n": 150}
    assert resumed.version == whole.get_instance(uninterrupted["journeyId"]).version
    assert stored_history(store, instance.id) == stored_history(whole, uninterrupted["journeyId"])
    assert store.due_work() == [] and store.lease_holder(instance.id) is None


def test_an_http_step_is_committed_before_the_next_step_runs(tmp_path: Path, httpserver):
    db = tmp_path / "jctl.db"
    store = Store.open(db)
    commits = Commits(store)
    seen_versions: list[int] = []

    def answer(request: Any) -> Any:
        from werkzeug import Response

        with Store.open(db) as reader:  # another handle: sees only what is committed
            [instance] = reader.list_instances()
            seen_versions.append(instance.version)
        return Response('{"ok": true}', content_type="application/json")

    httpserver.expect_request("/one").respond_with_handler(answer)
    httpserver.expect_request("/two").respond_with_handler(answer)
    states = {
        "prepare": {"type": "transform", "transform": {"mapper": jsonata('{"x": 1}'), "target": {"kind": "var"},
                                                       "resultVar": "prepared"}, "next": "callOne"},
        "callOne": {"type": "task", "task": {"kind": "httpCall:v1", "method": "GET", "resultVar": "one",
                                             "url": httpserver.url_for("/one")}, "next": "between"},
        "between": {"type": "transform", "transform": {"mapper": jsonata('{"y": 2}'), "target": {"kind": "var"},
                                                       "resultVar": "middle"}, "next": "callTwo"},
        "callTwo": {"type": "task", "task": {"kind": "httpCall:v1", "method": "GET", "resultVar": "two",
                                             "url": httpserver.url_for("/two")}, "next": "done"},
        "done": {"type": "succeed"},
    }
    outcome = Runner(store).start(write_journey(tmp_path, states, "prepare"), {})
    assert outcome["phase"] == "SUCCEEDED"
    # the new instance was stored with prepare before callOne's call went out; callTwo's call went out after
    # callOne's transition and `between` (pure, computed from it) were committed
    assert seen_versions == [1, 3]
    assert commits.sizes == [1, 1, 1, 1, 1]
    history = stored_history(store, store.list_instances()[0].id)
    assert [s for _, t, s, _ in history if t == "state.completed"] == ["prepare", "callOne", "between", "callTwo"]


def test_a_start_killed_before_its_first_commit_leaves_nothing(tmp_path: Path):
    spec = write_journey(tmp_path, LOOP_STATES, "bump")
    db = tmp_path / "killed.db"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    killed = subprocess.run([sys.executable, "-c", KILL_SCRIPT, str(db), str(spec), "10"], env=env, timeout=120)
    assert killed.returncode == -signal.SIGKILL
    store = Store.open(db)
    # the instance is inserted by the commit of its first pure steps: killed before it, the start never happened
    # (and never answered); nothing half-made is left to resume
    assert store.list_instances() == [] and store.due_work() == []


def test_a_signal_is_refused_while_another_runner_holds_the_lease(tmp_path: Path):
    store = Store.open(tmp_path / "jctl.db")
    runner = Runner(store)
    waiting = runner.start(write_journey(tmp_path, CHAIN_STATES, "first"), {})["journeyId"]
    other = f"{socket.gethostname()}:{os.getpid()}:another"  # a live process's runner
    assert store.acquire_lease(waiting, other)
    before = stored_history(store, waiting)
    with pytest.raises(InstanceBusy):
        runner.signal(waiting, {"answer": 1})
    assert stored_history(store, waiting) == before and store.lease_holder(waiting) == other
    store.release_lease(waiting, other)
    assert runner.signal(waiting, {"answer": 1})["phase"] == "SUCCEEDED"


def test_a_signal_takes_the_lease_before_its_chain_reaches_an_http_step(tmp_path: Path, httpserver):
    db = tmp_path / "jctl.db"
    store = Store.open(db)
    runner = Runner(store)
    seen: list[tuple[int, str | None]] = []

    def answer(request: Any) -> Any:
        from werkzeug import Response

        with Store.open(db) as reader:
            [instance] = reader.list_instances()
            seen.append((instance.version, reader.lease_holder(instance.id)))
        return Response('{"ok": true}', content_type="application/json")

    httpserver.expect_request("/notify").respond_with_handler(answer)
    states = {
        "ask": {"type": "wait", "wait": {"channel": "manual", "input": {"schema": {"type": "object"}}},
                "next": "record"},
        "record": {"type": "transform", "transform": {"mapper": jsonata("context.payload"), "target": {"kind": "var"},
                                                      "resultVar": "answer"}, "next": "notify"},
        "notify": {"type": "task", "task": {"kind": "httpCall:v1", "method": "GET", "resultVar": "sent",
                                            "url": httpserver.url_for("/notify")}, "next": "done"},
        "done": {"type": "succeed"},
    }
    waiting = runner.start(write_journey(tmp_path, states, "ask"), {})["journeyId"]
    assert store.get_instance(waiting).version == 1
    assert runner.signal(waiting, {"x": 1})["phase"] == "SUCCEEDED"
    # signal.received and record were committed, with the lease taken, before the call went out
    assert seen == [(3, runner.owner)]
    assert store.lease_holder(waiting) is None


def test_a_drive_that_fails_before_its_first_step_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """An engine failure before a signal's first transition (the signal's own check passed) commits nothing: the
    instance stays as it was and no lease is kept."""
    from jctl.engine.interpreter import Interpreter

    store = Store.open(tmp_path / "jctl.db")
    runner = Runner(store)
    waiting = runner.start(write_journey(tmp_path, CHAIN_STATES, "first"), {})["journeyId"]
    before = store.get_instance(waiting)

    def broken(self: Interpreter, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the engine broke")
        yield  # a generator, as the interpreter's drives are

    monkeypatch.setattr(Interpreter, "signal", broken)
    commits = Commits(store)
    with pytest.raises(RuntimeError, match="the engine broke"):
        runner.signal(waiting, {"answer": 1})
    assert commits.sizes == []  # not even an empty one
    after = store.get_instance(waiting)
    assert (after.version, after.updated_at, after.current_state) == (before.version, before.updated_at,
                                                                       before.current_state)
    assert store.lease_holder(waiting) is None
