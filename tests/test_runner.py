"""The durable runner on a real SQLite file: signals, step timeouts, timers on the simulated clock,
auto-advance, cancellation, deadlines, detach + tick, idempotency and resuming after a killed process."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from jctl.engine.errors import InvalidPayload, NotCancellable, StepConflict, UnknownInstance
from conftest import POLL_STATES, jsonata, write_journey
from jctl.engine.runner import Runner
from jctl.store import Store

REPO = Path(__file__).resolve().parents[1]




APPROVAL_STATES = {
    "askApproval": {"type": "wait", "wait": {
        "channel": "manual",
        "input": {"schema": {"type": "object", "required": ["approved"],
                             "properties": {"approved": {"type": "boolean"}}}},
        "response": {"outputVar": "summary", "schema": {"type": "object"}},
        "timeoutSec": 600, "onTimeout": "tooLate"}, "next": "record"},
    "record": {"type": "transform", "transform": {"mapper": jsonata('{"approved": context.payload.approved}'),
                                                  "target": {"kind": "var"}, "resultVar": "summary"},
               "next": "route"},
    "route": {"type": "choice", "choices": [{"when": {"predicate": jsonata("context.summary.approved")},
                                             "next": "done"}], "default": "askApproval"},
    "done": {"type": "succeed", "outputVar": "summary"},
    "tooLate": {"type": "fail", "errorCode": "APPROVAL_TIMEOUT", "reason": "nobody answered"},
}


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(tmp_path / "jctl.db")


def test_wait_signal_flow_with_projection_and_payload_cleared(store: Store, tmp_path: Path):
    runner = Runner(store)
    status = runner.start(write_journey(tmp_path, APPROVAL_STATES, "askApproval"), {"order": 1})
    assert status["phase"] == "RUNNING" and status["currentState"] == "askApproval"
    assert status["_links"]["askApproval"]["method"] == "POST" and "cancel" in status["_links"]
    again = runner.signal(status["journeyId"], {"approved": False}, step="askApproval")
    assert again["currentState"] == "askApproval" and again["approved"] is False  # projected outputVar
    assert "payload" not in store.get_instance(status["journeyId"]).context  # cleared on re-entering the wait
    outcome = runner.signal(status["journeyId"][:10], {"approved": True})
    assert outcome["phase"] == "SUCCEEDED" and outcome["output"] == {"approved": True}


def test_schema_violation_and_wrong_step_change_nothing(store: Store, tmp_path: Path):
    runner = Runner(store)
    journey_id = runner.start(write_journey(tmp_path, APPROVAL_STATES, "askApproval"), {})["journeyId"]
    before = store.get_instance(journey_id)
    with pytest.raises(InvalidPayload) as raised:
        runner.signal(journey_id, {"approved": "yes"})
    assert any("approved" in v for v in raised.value.violations)
    with pytest.raises(StepConflict, match="not active"):
        runner.signal(journey_id, {"approved": True}, step="record")
    after = store.get_instance(journey_id)
    assert (after.version, after.context, len(store.history(journey_id))) == (
        before.version, before.context, len(store.history(journey_id)))
    with pytest.raises(UnknownInstance):
        runner.signal("ffffffffffff", {"approved": True})


def test_signal_to_finished_instance_is_a_conflict(store: Store, tmp_path: Path):
    runner = Runner(store)
    journey_id = runner.start(write_journey(tmp_path, APPROVAL_STATES, "askApproval"), {})["journeyId"]
    runner.signal(journey_id, {"approved": True})
    with pytest.raises(StepConflict, match="finished"):
        runner.signal(journey_id, {"approved": True})


def test_idempotency_key_replays_the_first_response(store: Store, tmp_path: Path):
    runner = Runner(store)
    journey_id = runner.start(write_journey(tmp_path, APPROVAL_STATES, "askApproval"), {})["journeyId"]
    first = runner.signal(journey_id, {"approved": False}, idempotency_key="k1")
    version = store.get_instance(journey_id).version
    replay = runner.signal(journey_id, {"approved": True}, idempotency_key="k1")
    assert replay == first and store.get_instance(journey_id).version == version


def test_step_timeout_fires_only_when_the_clock_moves(store: Store, tmp_path: Path):
    runner = Runner(store)
    journey_id = runner.start(write_journey(tmp_path, APPROVAL_STATES, "askApproval"), {})["journeyId"]
    assert runner.tick() == []
    assert runner.advance(timedelta(seconds=599)) == []
    assert store.get_instance(journey_id).phase == "RUNNING"
    lines = runner.advance(timedelta(seconds=1))
    assert any("timed out step askApproval" in line for line in lines)
    outcome = runner.status(journey_id)
    assert outcome["phase"] == "FAILED" and outcome["error"]["code"] == "APPROVAL_TIMEOUT"


POLL_MOCKS = {"mocks": [{"match": {"method": "GET", "url": "https://jobs.example.com/j/*"},
                         "respond": [{"status": 200, "body": {"state": "RUNNING"}},
                                     {"status": 200, "body": {"state": "RUNNING"}},
                                     {"status": 200, "body": {"state": "DONE"}}]}]}


def test_timers_fire_only_when_the_clock_is_advanced(store: Store, tmp_path: Path):
    lines: list[str] = []
    runner = Runner(store, out=lines.append)
    status = runner.start(write_journey(tmp_path, POLL_STATES, "poll"), {}, mocks=POLL_MOCKS)
    assert status["currentState"] == "pause" and status["waitingFor"] == "timer"
    assert "pause" not in status["_links"]  # timers expose no step endpoint
    assert runner.tick() == [] and runner.advance(timedelta(seconds=29)) == []
    fired = runner.advance(timedelta(seconds=1))
    assert fired and "fired timer pause" in fired[0]
    assert runner.status(status["journeyId"])["currentState"] == "pause"  # second RUNNING answer
    runner.advance(timedelta(seconds=30))
    outcome = runner.status(status["journeyId"])
    assert outcome["phase"] == "SUCCEEDED" and outcome["output"]["body"] == {"state": "DONE"}
    assert store.get_instance(status["journeyId"]).cursor["mockCounters"] == {"0": 3}
    assert lines == [line for line in lines if "fired timer pause" in line] and len(lines) == 2


def test_auto_advance_skips_timer_time(store: Store, tmp_path: Path):
    runner = Runner(store)
    started = store.now()
    outcome = runner.start(write_journey(tmp_path, POLL_STATES, "poll"), {}, mocks=POLL_MOCKS, auto_advance=True)
    assert outcome["phase"] == "SUCCEEDED"
    assert store.now() - started == timedelta(seconds=60)


def test_cancel_discards_due_work_and_is_idempotent(store: Store, tmp_path: Path):
    runner = Runner(store)
    journey_id = runner.start(write_journey(tmp_path, POLL_STATES, "poll"), {}, mocks=POLL_MOCKS)["journeyId"]
    assert store.next_due_at() is not None
    outcome = runner.cancel(journey_id)
    assert outcome["error"] == {"code": "JOURNEY_CANCELLED", "reason": "Cancelled by user"}
    assert store.next_due_at() is None
    assert runner.cancel(journey_id) == outcome
    assert runner.advance(timedelta(hours=1)) == []


def test_not_cancellable_journey_refuses(store: Store, tmp_path: Path):
    runner = Runner(store)
    path = write_journey(tmp_path, APPROVAL_STATES, "askApproval", lifecycle={"cancellable": False})
    status = runner.start(path, {})
    assert "cancel" not in status["_links"]
    with pytest.raises(NotCancellable):
        runner.cancel(status["journeyId"])


def test_execution_deadline_fails_with_on_timeout(store: Store, tmp_path: Path):
    runner = Runner(store)
    path = write_journey(tmp_path, POLL_STATES, "poll", execution={
        "maxDurationSec": 45, "onTimeout": {"errorCode": "TOO_SLOW", "reason": "over budget"}})
    journey_id = runner.start(path, {}, mocks={"mocks": [{"match": {"url": "*"},
                                                           "respond": {"body": {"state": "RUNNING"}}}]})["journeyId"]
    runner.advance(timedelta(minutes=5))
    outcome = runner.status(journey_id)
    assert outcome["phase"] == "FAILED" and outcome["error"] == {"code": "TOO_SLOW", "reason": "over budget"}
    assert store.next_due_at() is None


def test_detach_then_tick_runs_the_instance(store: Store, tmp_path: Path):
    runner = Runner(store)
    started = runner.start(write_journey(tmp_path, APPROVAL_STATES, "askApproval"), {}, detach=True)
    assert set(started) >= {"journeyId", "journeyName", "statusUrl", "_links"}
    assert runner.status(started["journeyId"])["currentState"] == "askApproval"
    assert store.history(started["journeyId"])[-1].type == "journey.started"
    lines = runner.tick()
    assert len(lines) == 1 and "ran" in lines[0]
    assert store.get_instance(started["journeyId"]).cursor["paused"] == "wait"


def test_links_can_be_disabled(store: Store, tmp_path: Path):
    runner = Runner(store)
    path = write_journey(tmp_path, APPROVAL_STATES, "askApproval", httpSurface={"links": {"enabled": False}})
    assert "_links" not in runner.start(path, {})


KILL_SCRIPT = """
import os, sys, httpx
from pathlib import Path
from jctl.engine.runner import Runner
from jctl.store import Store
calls = []
def handle(request):
    calls.append(request)
    if len(calls) == 2:
        os._exit(9)  # the process dies in the middle of the second HTTP call
    return httpx.Response(200, json={"n": len(calls)})
Runner(Store.open(sys.argv[1]), http_transport=httpx.MockTransport(handle)).start(Path(sys.argv[2]), {})
"""


def test_killed_runner_resumes_from_the_last_committed_transition(tmp_path: Path):
    states = {
        "first": {"type": "task", "task": {"kind": "httpCall:v1", "method": "GET", "url": "http://svc.local/1",
                                           "resultVar": "one"}, "next": "second"},
        "second": {"type": "task", "task": {"kind": "httpCall:v1", "method": "GET", "url": "http://svc.local/2",
                                            "resultVar": "two"}, "next": "done"},
        "done": {"type": "succeed"},
    }
    path = write_journey(tmp_path, states, "first")
    db = tmp_path / "jctl.db"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    killed = subprocess.run([sys.executable, "-c", KILL_SCRIPT, str(db), str(path)], env=env, timeout=120)
    assert killed.returncode == 9
    store = Store.open(db)
    [instance] = store.list_instances()
    assert instance.phase == "RUNNING" and instance.current_state == "second"
    assert instance.context["one"]["body"] == {"n": 1}
    import httpx

    runner = Runner(store, http_transport=httpx.MockTransport(lambda r: httpx.Response(200, json={"n": "again"})))
    lines = runner.tick()
    assert lines and "ran" in lines[0]
    outcome = runner.status(instance.id)
    assert outcome["phase"] == "SUCCEEDED"
    assert outcome["output"]["one"]["body"] == {"n": 1} and outcome["output"]["two"]["body"] == {"n": "again"}


def test_tick_auto_advance_never_skips_a_step_waiting_for_input(store: Store, tmp_path: Path):
    runner = Runner(store)
    waiting = runner.start(write_journey(tmp_path, APPROVAL_STATES, "askApproval"), {})["journeyId"]
    before = store.now()
    assert runner.tick(auto_advance=True) == []
    assert store.now() == before and store.get_instance(waiting).phase == "RUNNING"


def test_zero_delay_polling_loop_does_not_spin_a_tick_forever(store: Store, tmp_path: Path):
    states = {"nap": {"type": "timer", "timer": {"duration": "PT0S"}, "next": "nap"}}
    runner = Runner(store, limits={"maxDueWorkPerTick": 20, "maxInlineTimers": 0})
    journey_id = runner.start(write_journey(tmp_path, states, "nap"), {})["journeyId"]
    assert len(runner.tick()) == 1  # one pass: the timer due now, not the one it schedules
    assert len(runner.tick(until_idle=True)) == 20
    assert store.get_instance(journey_id).phase == "RUNNING"


def test_advance_stops_a_zero_delay_loop_with_a_message(store: Store, tmp_path: Path):
    states = {"nap": {"type": "timer", "timer": {"duration": "PT0S"}, "next": "nap"}}
    runner = Runner(store, limits={"maxDueWorkPerTick": 30, "maxInlineTimers": 0})
    runner.start(write_journey(tmp_path, states, "nap"), {})
    target = store.now() + timedelta(seconds=1)
    lines = runner.advance(timedelta(seconds=1))
    assert "stopped after 30 due items" in lines[-1] and f"short of {target.isoformat()}" in lines[-1]
    assert f"the clock stays at {store.now().isoformat()}" in lines[-1] and store.now() < target


def test_auto_advance_stops_a_zero_delay_loop_within_its_budget(store: Store, tmp_path: Path):
    """`run --auto-advance` / `tick --auto-advance` on a PT0S loop used to run maxDueWorkPerTick items for each of
    maxAutoAdvanceSteps steps: in effect forever."""
    states = {"nap": {"type": "timer", "timer": {"duration": "PT0S"}, "next": "nap"}}
    said: list[str] = []
    runner = Runner(store, limits={"maxAutoAdvanceSteps": 25, "maxDueWorkPerTick": 40, "maxInlineTimers": 0},
                    out=said.append)
    journey_id = runner.start(write_journey(tmp_path, states, "nap"), {}, auto_advance=True)["journeyId"]
    assert store.get_instance(journey_id).phase == "RUNNING"
    assert len([e for e in store.history(journey_id) if e.type == "timer.fired"]) == 25
    assert "stopped auto-advancing after 25 due items" in said[-1]
    lines = runner.tick(auto_advance=True)
    assert len(lines) == 41 and "stopped after 40 due items" in lines[-1]


RACE_STATES = {
    "race": {"type": "parallel", "parallel": {"branches": [
        {"name": "answer", "start": "askUser", "states": {
            "askUser": {"type": "wait", "wait": {"channel": "manual", "input": {"schema": {
                "type": "object", "required": ["ok"], "properties": {"ok": {"type": "boolean"}}}}},
                        "next": "keep"},
            "keep": {"type": "transform", "transform": {"mapper": jsonata('{"answer": context.payload.ok}'),
                                                        "target": {"kind": "context", "path": "result"}},
                     "next": "end"},
            "end": {"type": "succeed"}}},
        {"name": "clock", "start": "sla", "states": {
            "sla": {"type": "timer", "timer": {"duration": "PT10M"}, "next": "late"},
            "late": {"type": "transform", "transform": {"mapper": jsonata('{"timedOut": true}'),
                                                        "target": {"kind": "context", "path": "result"}},
                     "next": "end"},
            "end": {"type": "succeed"}}}],
        "join": {"strategy": "anyOf"}}, "next": "done"},
    "done": {"type": "succeed", "outputVar": "result"},
}


def test_parallel_race_between_a_wait_and_a_timer(store: Store, tmp_path: Path):
    runner = Runner(store)
    path = write_journey(tmp_path, RACE_STATES, "race")
    answered = runner.start(path, {})
    assert answered["waitingFor"] == "parallel" and answered["activeSteps"] == ["askUser"]
    assert "askUser" in answered["_links"]
    with pytest.raises(InvalidPayload):
        runner.signal(answered["journeyId"], {"ok": "yes"})
    outcome = runner.signal(answered["journeyId"], {"ok": True}, step="askUser")
    assert outcome["phase"] == "SUCCEEDED" and outcome["output"] == {"answer": True}
    slow = runner.start(path, {})
    lines = runner.advance(timedelta(minutes=10))
    assert any("fired timer sla" in line for line in lines)
    late = runner.status(slow["journeyId"])
    assert late["output"] == {"timedOut": True}
    assert store.next_due_at() is None  # the losing branch's work is gone


def test_cancel_waits_for_another_process_lease_instead_of_failing_at_once(store: Store, tmp_path: Path):
    import socket

    runner = Runner(store)
    journey_id = runner.start(write_journey(tmp_path, APPROVAL_STATES, "askApproval"), {})["journeyId"]
    other = f"{socket.gethostname()}:{os.getpid()}:other"  # a live process: only expiry frees its lease
    assert store.acquire_lease(journey_id, other, ttl=timedelta(milliseconds=600))
    outcome = runner.cancel(journey_id)
    assert outcome["phase"] == "FAILED" and store.get_instance(journey_id).phase == "FAILED"


def test_already_due_timers_fire_within_the_trigger_up_to_a_bound(store: Store, tmp_path: Path):
    states = {"nap": {"type": "timer", "timer": {"duration": "PT0S"}, "next": "nap"}}
    runner = Runner(store, limits={"maxInlineTimers": 5})
    journey_id = runner.start(write_journey(tmp_path, states, "nap"), {})["journeyId"]
    fired = lambda: len([e for e in store.history(journey_id) if e.type == "timer.fired"])  # noqa: E731
    assert fired() == 5 and store.get_instance(journey_id).cursor["paused"] == "timer"
    assert len(runner.tick()) == 1 and fired() == 11  # the due one, then five more within the same drive
    past = {"wake": {"type": "timer", "timer": {"until": "2000-01-01T00:00:00Z"}, "next": "done"},
            "done": {"type": "succeed"}}
    assert Runner(store).start(write_journey(tmp_path, past, "wake", name="past"), {})["phase"] == "SUCCEEDED"


def test_a_wide_parallel_records_only_what_a_trigger_changed(store: Store, tmp_path: Path):
    """Issue 17.5: each parallel.waiting used to carry every branch, so history grew with width x triggers."""
    branches = [{"name": f"b{i}", "start": "nap", "states": {
        "nap": {"type": "timer", "timer": {"duration": f"PT{i + 1}S"}, "next": "end"}, "end": {"type": "succeed"}}}
        for i in range(60)]
    states = {"fan": {"type": "parallel", "parallel": {"branches": branches, "join": {"strategy": "allOf"}},
                      "next": "done"}, "done": {"type": "succeed"}}
    runner = Runner(store)
    journey_id = runner.start(write_journey(tmp_path, states, "fan"), {})["journeyId"]
    runner.advance(timedelta(seconds=3))
    waiting = [e for e in store.history(journey_id) if e.type == "parallel.waiting"]
    assert len(waiting[0].data["branches"]) == 60
    assert [e.data for e in waiting[1:]] == [{"changed": [{"branch": f"b{i}", "phase": "SUCCEEDED", "at": "end"}]}
                                             for i in range(3)]
    runner.advance(timedelta(minutes=1))
    assert store.get_instance(journey_id).phase == "SUCCEEDED"
