"""Task plugins with store writes (kafkaPublish:v1, cache:v1, schedule:v1) inside parallel branches and
subjourneys: each write commits with the transition that runs its branch step, exactly once, across a wait in a
branch and across a process killed mid-transition."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from conftest import REPO, cli_in, cli_json_in, jsonata, run_jctl, write_journey
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response


def publish(topic: str, nxt: str) -> dict[str, Any]:
    return {"type": "task", "task": {"kind": "kafkaPublish:v1", "topic": topic, "key": "${context.orderId}",
                                     "value": {"mapper": jsonata('{"orderId": orderId}')}}, "next": nxt}


def cache(operation: str, nxt: str, **extra: Any) -> dict[str, Any]:
    return {"type": "task", "task": {"kind": "cache:v1", "operation": operation,
                                     "key": {"mapper": jsonata('"order:" & orderId')}, **extra}, "next": nxt}


def outbox(tmp_path: Path) -> list[tuple[str, str, str]]:
    return [(r["topic"], r["key"], r["state"]) for r in cli_json_in(tmp_path, "outbox")]


def test_branch_writes_commit_once_across_a_wait_in_a_branch(tmp_path: Path) -> None:
    spec = write_journey(tmp_path, {
        "fanOut": {"type": "parallel", "parallel": {"join": {"strategy": "allOf"}, "branches": [
            {"name": "notify", "start": "placed", "states": {
                "placed": publish("orders.placed", "confirm"),
                "confirm": {"type": "wait", "wait": {"channel": "manual", "input": {"schema": {"type": "object"}}},
                            "next": "confirmed"},
                "confirmed": publish("orders.confirmed", "notified"),
                "notified": {"type": "succeed"}}},
            {"name": "remember", "start": "put", "states": {
                "put": cache("put", "stored", value={"mapper": jsonata('{"total": total}')}, ttlSeconds=600),
                "stored": {"type": "succeed"}}},
            {"name": "recall", "start": "get", "states": {  # runs after `remember` in the same transition
                "get": cache("get", "got", resultVar="sibling"),
                "got": {"type": "succeed"}}}]},
            "next": "lookup"},
        "lookup": cache("get", "done", resultVar="cached"),
        "done": {"type": "succeed"}}, "fanOut")
    started = cli_json_in(tmp_path, "run", str(spec), "--input", '{"orderId": "o-1", "total": 42}')
    assert started["phase"] == "RUNNING" and started["activeSteps"] == ["confirm"]
    assert outbox(tmp_path) == [("orders.placed", "o-1", "placed")]

    finished = cli_json_in(tmp_path, "signal", started["journeyId"], "--payload", "{}")
    assert finished["phase"] == "SUCCEEDED", finished
    assert finished["output"]["sibling"] == {"total": 42}  # the uncommitted put of the sibling branch was read
    assert finished["output"]["cached"] == {"total": 42}  # and it was committed with the parallel's transition
    cli_in(tmp_path, "signal", started["journeyId"], "--payload", "{}", code=1)  # refused: changes nothing
    cli_in(tmp_path, "tick", "--until-idle")
    assert outbox(tmp_path) == [("orders.placed", "o-1", "placed"), ("orders.confirmed", "o-1", "confirmed")]


def test_subjourney_and_nested_parallel_publish_once_each(tmp_path: Path) -> None:
    inner = {"type": "parallel", "parallel": {"branches": [
        {"name": "a", "start": "pa", "states": {"pa": publish("inner.a", "ea"), "ea": {"type": "succeed"}}},
        {"name": "b", "start": "pb", "states": {"pb": publish("inner.b", "eb"), "eb": {"type": "succeed"}}}]},
        "next": "innerDone"}
    spec = write_journey(tmp_path, {
        "outer": {"type": "parallel", "parallel": {"branches": [
            {"name": "nest", "start": "inner", "states": {"inner": inner, "innerDone": {"type": "succeed"}}},
            {"name": "sub", "start": "callSub", "states": {
                "callSub": {"type": "subjourney", "subjourney": {"ref": "announce"}, "next": "subDone"},
                "subDone": {"type": "succeed"}}}]},
            "next": "done"},
        "done": {"type": "succeed"}}, "outer",
        subjourneys={"announce": {"start": "send", "states": {
            "send": {"type": "task", "task": {"kind": "kafkaPublish:v1", "topic": "sub.announced",
                                              "value": {"mapper": jsonata('{"from": "sub"}')}}, "next": "ok"},
            "ok": {"type": "succeed"}}}})
    assert cli_json_in(tmp_path, "run", str(spec), "--input", '{"orderId": "o-2"}')["phase"] == "SUCCEEDED"
    assert sorted(topic for topic, _, _ in outbox(tmp_path)) == ["inner.a", "inner.b", "sub.announced"]


def scheduler(tmp_path: Path, on_existing: str) -> Path:
    schedule = {"kind": "schedule:v1", "start": "charge", "interval": "P1D", "maxRuns": 2,
                "startAt": {"mapper": jsonata('"2030-01-01T12:00:00Z"')}, "subjectId": {"mapper": jsonata("orderId")},
                "onExisting": on_existing}
    branches = [{"name": name, "start": "bind", "states": {"bind": {"type": "task", "task": schedule, "next": "ok"},
                                                          "ok": {"type": "succeed"}}} for name in ("first", "second")]
    return write_journey(tmp_path, {
        "fanOut": {"type": "parallel", "parallel": {"branches": branches}, "next": "done"},
        "done": {"type": "succeed"},
        "charge": {"type": "succeed"}}, "fanOut", name=f"billing-{on_existing.lower()}")


def test_schedules_in_sibling_branches_see_each_other_before_they_commit(tmp_path: Path) -> None:
    cli_in(tmp_path, "clock", "set", "2030-01-01T00:00:00Z")
    refused = cli_json_in(tmp_path, "run", str(scheduler(tmp_path, "fail")), "--input", '{"orderId": "o-3"}', code=1)
    assert refused["error"]["code"] == "SCHEDULE_EXISTS"  # the second branch saw the first one's binding
    assert cli_json_in(tmp_path, "schedules") == []  # the failed transition committed none of its writes
    upserted = cli_json_in(tmp_path, "run", str(scheduler(tmp_path, "upsert")), "--input", '{"orderId": "o-3"}')
    assert upserted["phase"] == "SUCCEEDED"
    [binding] = cli_json_in(tmp_path, "schedules")  # the second upsert updated the first, in the same commit
    assert (binding["subjectId"], binding["runsExecuted"], binding["status"]) == ("o-3", 0, "ACTIVE")
    assert cli_in(tmp_path, "clock", "advance", "P3D").stdout.count("started scheduled run") == 2


def test_a_run_killed_inside_a_branch_transition_publishes_once_after_resume(tmp_path: Path,
                                                                             httpserver: HTTPServer) -> None:
    reached, release = threading.Event(), threading.Event()
    calls: list[str] = []

    def slow(request: Request) -> Response:
        calls.append(request.path)
        reached.set()
        release.wait(30)
        return Response('{"ok": true}', content_type="application/json")

    httpserver.expect_request("/ship").respond_with_handler(slow)
    spec = write_journey(tmp_path, {
        "fanOut": {"type": "parallel", "parallel": {"branches": [
            {"name": "ship", "start": "announce", "states": {
                "announce": publish("orders.shipping", "call"),
                "call": {"type": "task", "task": {"kind": "httpCall:v1", "method": "POST",
                                                  "url": httpserver.url_for("/ship"), "resultVar": "shipped"},
                         "next": "shipped"},
                "shipped": {"type": "succeed"}}}]},
            "next": "done"},
        "done": {"type": "succeed"}}, "fanOut")
    env = {**_env(), "JCTL_DB": str(tmp_path / "jctl.db")}
    process = subprocess.Popen([sys.executable, "-m", "jctl", "run", str(spec), "--input", '{"orderId": "o-4"}'],
                               cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert reached.wait(60), "the branch never made its call"
        process.send_signal(signal.SIGKILL)  # mid-transition: the record was published in memory only
        process.communicate(timeout=30)
    finally:
        release.set()
        if process.poll() is None:
            process.kill()
    assert outbox(tmp_path) == []
    cli_in(tmp_path, "tick", "--until-idle")  # a dead runner's lease is taken over; the transition runs again
    [instance] = cli_json_in(tmp_path, "list")
    assert instance["phase"] == "SUCCEEDED", instance
    assert outbox(tmp_path) == [("orders.shipping", "o-4", "announce")]
    assert calls == ["/ship", "/ship"]  # the call is at-least-once; the record is exactly once


def _env() -> dict[str, str]:
    import os

    environment = dict(os.environ, PYTHONPATH=str(REPO), NO_COLOR="1")
    environment.pop("JCTL_DB", None)
    return environment


def test_jctl_test_sees_the_steps_of_branches(tmp_path: Path) -> None:
    """Branch steps are history: `jctl test` covers their states and transitions and sees what they published."""
    write_journey(tmp_path, {
        "fanOut": {"type": "parallel", "parallel": {"branches": [
            {"name": "notify", "start": "placed", "states": {
                "placed": publish("orders.placed", "confirm"),
                "confirm": {"type": "wait", "wait": {"channel": "manual", "input": {"schema": {"type": "object"}}},
                            "next": "notified"},
                "notified": {"type": "succeed"}}},
            {"name": "pause", "start": "nap", "states": {
                "nap": {"type": "timer", "timer": {"duration": "PT1M"}, "next": "rested"},
                "rested": {"type": "succeed"}}}]},
            "next": "done"},
        "done": {"type": "succeed"}}, "fanOut", name="fan")
    (tmp_path / "fan.scenario.yaml").write_text("""journey: fan.journey.yaml
scenarios:
  - name: everything happens
    input: { orderId: o-5 }
    steps:
      - advance: PT1M
      - signal: { payload: {} }
      - expect: { phase: SUCCEEDED, visited: [placed, nap, notified, done],
                  published: [{ topic: orders.placed, key: o-5, count: 1 }] }
""")
    result = run_jctl("test", str(tmp_path), "--format", "json", "--jobs", "1")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    [coverage] = report["coverage"]
    assert coverage["uncoveredStates"] == [] and coverage["uncoveredTransitions"] == [], coverage
    assert coverage["percent"] == 100.0
