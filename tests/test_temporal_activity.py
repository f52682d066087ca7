"""The `jctl.advance` activity in process (no Temporal server): what a worker gives the interpreter besides HTTP —
its store for plugin effects (cache reads and puts, the kafkaPublish outbox, applied once per trigger), the local
secrets (blanked out of all it returns) — and what `run --target temporal://` and `worker --backend temporal` refuse
before anything starts."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("temporalio")

from temporalio.exceptions import ApplicationError  # noqa: E402

from conftest import cache_journeys, jsonata, run_jctl, write_journey  # noqa: E402
from jctl.engine.start import plan_start  # noqa: E402
from jctl.secrets import Secrets  # noqa: E402
from jctl.store import Store  # noqa: E402
from jctl.store.models import CachePut  # noqa: E402
from jctl.temporal.activities import WorkerEnvironment, run_trigger  # noqa: E402
from jctl.temporal.codec import instance_doc  # noqa: E402

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
SECRET = "tok-s3cr3t-value"
RUN = {"kind": "run"}


def started(path: Path, input: Any, now: datetime = NOW) -> dict[str, Any]:
    """A new instance of the spec as the workflow holds it (what `TemporalTarget.start` puts in its input)."""
    instance = plan_start(path, input, mocks=None, supplied_config={}, now=now, detach=False).instance
    instance.created_at = instance.updated_at = now
    return instance_doc(instance)


def outcome(result: dict[str, Any]) -> dict[str, Any]:
    return dict(result["transitions"][-1]["snapshot"])


def test_cache_puts_reach_the_worker_store_and_expire_on_the_journey_clock(tmp_path: Path) -> None:
    env = WorkerEnvironment(tmp_path / "effects.db")
    writer, reader = cache_journeys(tmp_path)

    def read(now: datetime) -> Any:
        return outcome(run_trigger(started(reader, {"userId": "u1"}, now), RUN, now, env))["output"]

    assert read(NOW) is None  # a miss
    run_trigger(started(writer, {"userId": "u1", "profile": {"name": "Ada"}}), RUN, NOW, env)
    assert read(NOW + timedelta(seconds=599)) == {"name": "Ada"}
    assert read(NOW + timedelta(seconds=600)) is None  # the TTL runs on the reading journey's clock
    env.close()


def test_a_later_step_of_the_same_trigger_reads_the_cache_put_before_it(tmp_path: Path) -> None:
    """A trigger's writes reach the store at its end; its own later steps read them first (as the local runner's
    commit after each step lets them)."""
    env = WorkerEnvironment(tmp_path / "effects.db")
    key = {"mapper": jsonata('"user:" & userId')}
    path = write_journey(tmp_path, {
        "remember": {"type": "task", "task": {"kind": "cache:v1", "operation": "put", "key": key,
                                              "value": {"mapper": jsonata("profile")}, "ttlSeconds": 600},
                     "next": "recall"},
        "recall": {"type": "task", "task": {"kind": "cache:v1", "operation": "get", "key": key,
                                            "resultVar": "cached"}, "next": "done"},
        "done": {"type": "succeed", "outputVar": "cached"}}, "remember", name="roundtrip")
    with Store.open(tmp_path / "effects.db") as store:  # an older entry in the store must not be what it reads
        store.apply_effects("earlier", "someone", [CachePut("user:u1", {"name": "Old"}, 3600)],
                            NOW, "{}")
    result = run_trigger(started(path, {"userId": "u1", "profile": {"name": "Ada"}}), RUN, NOW, env)
    assert outcome(result)["output"] == {"name": "Ada"}
    assert env.store().cache_get("user:u1", NOW) == (True, {"name": "Ada"})
    env.close()


def test_a_retried_trigger_answers_as_the_attempt_whose_writes_were_applied(tmp_path: Path,
                                                                              httpserver: Any) -> None:
    """The attempt that applied the writes is the one recorded, even when its worker died before reporting it: a
    retry answers what the store's writes came from without running again (no second call, whose different answer
    could have taken another path)."""
    from werkzeug import Request, Response

    calls: list[int] = []

    def count(request: Request) -> Response:
        calls.append(len(calls) + 1)
        return Response(json.dumps({"call": calls[-1]}), content_type="application/json")

    httpserver.expect_request("/next").respond_with_handler(count)
    path = write_journey(tmp_path, {
        "fetch": {"type": "task", "task": {"kind": "httpCall:v1", "method": "GET", "url": httpserver.url_for("/next"),
                                           "resultVar": "answer"}, "next": "announce"},
        "announce": {"type": "task", "task": {"kind": "kafkaPublish:v1", "topic": "calls",
                                              "value": {"mapper": jsonata("answer.body")}}, "next": "done"},
        "done": {"type": "succeed", "outputVar": "answer"}}, "fetch", name="counter")
    env = WorkerEnvironment(tmp_path / "effects.db")
    doc = started(path, {})
    first = run_trigger(doc, RUN, NOW, env, effects_key="wf/run/0")
    again = run_trigger(doc, RUN, NOW, env, effects_key="wf/run/0")
    assert calls == [1] and again == first and outcome(first)["output"]["body"] == {"call": 1}
    assert [entry.value for entry in env.store().outbox()] == [{"call": 1}]
    env.close()


def publisher(tmp_path: Path) -> Path:
    return write_journey(tmp_path, {
        "announce": {"type": "task", "task": {"kind": "kafkaPublish:v1", "topic": "orders", "key": "${context.id}",
                                              "value": {"mapper": jsonata('{"order": id}')}}, "next": "audit"},
        "audit": {"type": "task", "task": {"kind": "kafkaPublish:v1", "topic": "audit",
                                           "value": {"mapper": jsonata('{"seen": id}')}}, "next": "done"},
        "done": {"type": "succeed"}}, "announce", name="publisher")


def test_a_retried_trigger_applies_its_store_writes_once(tmp_path: Path) -> None:
    """A worker that died after applying, before reporting: Temporal retries the activity with the same trigger."""
    env = WorkerEnvironment(tmp_path / "effects.db")
    doc = started(publisher(tmp_path), {"id": "o-1"})
    first = run_trigger(doc, RUN, NOW, env, effects_key="wf/run/0")
    again = run_trigger(doc, RUN, NOW, env, effects_key="wf/run/0")
    assert outcome(first) == outcome(again) and outcome(first)["phase"] == "SUCCEEDED"
    with Store.open(tmp_path / "effects.db") as store:
        records = [(e.instance_id, e.topic, e.key, e.value, e.at) for e in store.outbox()]
    assert records == [(doc["id"], "orders", "o-1", {"order": "o-1"}, NOW), (doc["id"], "audit", None,
                                                                             {"seen": "o-1"}, NOW)]
    run_trigger(doc, RUN, NOW, env, effects_key="wf/run/1")  # another trigger's writes are its own
    assert len(env.store().outbox()) == 4
    env.close()


def test_gc_forgets_applied_effect_keys_past_the_retention_by_wall_time(tmp_path: Path) -> None:
    """The once-only keys are kept while a retry is possible; `jctl gc` forgets them by when they were applied
    (wall time), whatever the journey's own clock said."""
    db = tmp_path / "effects.db"
    env = WorkerEnvironment(db)
    doc = started(publisher(tmp_path), {"id": "o-1"})
    run_trigger(doc, RUN, NOW - timedelta(days=400), env, effects_key="wf/run/0")  # a journey clock long past
    env.close()

    def gc(older_than: str) -> Any:
        done = run_jctl("gc", "--older-than", older_than, "-f", "json", "--db", str(db))
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    assert gc("P1D") == {"purged": [], "appliedEffectKeys": 0}  # applied a moment ago: a retry may still come
    human = run_jctl("gc", "--older-than", "PT0S", "--db", str(db))
    assert human.returncode == 0 and "forgot 1 applied-effect key(s)" in human.stdout, human.stderr
    assert gc("PT0S") == {"purged": [], "appliedEffectKeys": 0}  # nothing left to forget
    env = WorkerEnvironment(db)
    run_trigger(doc, RUN, NOW, env, effects_key="wf/run/0")  # a forgotten key applies again
    assert len(env.store().outbox()) == 4
    env.close()


def test_secret_values_are_blanked_out_of_what_the_activity_returns(tmp_path: Path, httpserver: Any) -> None:
    """The result is recorded in the workflow history: a server echoing the token back must not put it there."""
    from werkzeug import Request, Response

    seen: list[str] = []

    def echo(request: Request) -> Response:
        seen.append(request.headers.get("Authorization", ""))
        return Response(json.dumps({"echo": seen[-1]}), content_type="application/json")

    httpserver.expect_request("/orders").respond_with_handler(echo)
    policies = {"httpClientAuth": {"definitions": {"static": {"kind": "bearerStatic",
                                                               "tokenRef": "secret://tokens/backend"}}}}
    path = write_journey(tmp_path, {
        "call": {"type": "task", "task": {"kind": "httpCall:v1", "method": "GET", "url": httpserver.url_for("/orders"),
                                          "auth": {"policyRef": "static"}, "resultVar": "answer"}, "next": "ask"},
        "ask": {"type": "wait", "next": "done", "wait": {"channel": "manual", "input": {"schema": {
            "type": "object", "properties": {"code": {"enum": ["A", "B"]}}}}}},
        "done": {"type": "succeed"}}, "call", name="echoer", policies=policies)
    env = WorkerEnvironment(tmp_path / "effects.db", Secrets({"secret://tokens/backend": SECRET}))
    doc = started(path, {})
    result = run_trigger(doc, RUN, NOW, env)
    assert seen == [f"Bearer {SECRET}"]  # the policy got the secret's value
    assert SECRET not in json.dumps(result) and "***" in json.dumps(outcome(result)["context"])
    with pytest.raises(ApplicationError) as refused:  # an error's message and details are recorded too
        run_trigger({**doc, **_paused(result)}, {"kind": "signal", "payload": {"code": SECRET}}, NOW, env)
    assert refused.value.non_retryable and refused.value.type == "InvalidPayload"
    assert SECRET not in f"{refused.value.message} {refused.value.details}"
    assert not (tmp_path / "effects.db").exists()  # a journey without store effects never opens the store


def _paused(result: dict[str, Any]) -> dict[str, Any]:
    snap = outcome(result)
    return {"phase": snap["phase"], "currentState": snap["currentState"], "context": snap["context"],
            "cursor": snap["cursor"], "version": len(result["transitions"])}


def scheduler(tmp_path: Path) -> Path:
    return write_journey(tmp_path, {
        "plan": {"type": "task", "task": {"kind": "schedule:v1", "start": "remind", "interval": "P1D", "maxRuns": 2,
                                          "startAt": {"mapper": jsonata("firstRunAt")}}, "next": "done"},
        "remind": {"type": "succeed"},
        "done": {"type": "succeed"}}, "plan", name="scheduler")


def test_schedule_tasks_are_refused_at_start_and_never_dropped(tmp_path: Path) -> None:
    path = scheduler(tmp_path)
    refused = run_jctl("run", str(path), "-i", '{"firstRunAt": "2026-03-02T00:00:00Z"}',
                       "--target", "temporal://127.0.0.1:9/default")
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "schedule:v1" in refused.stderr and "'plan'" in refused.stderr and "local" in refused.stderr
    env = WorkerEnvironment(tmp_path / "effects.db")  # a journey started without that check: the activity refuses
    with pytest.raises(ApplicationError) as failed:
        run_trigger(started(path, {"firstRunAt": "2026-03-02T00:00:00Z"}), RUN, NOW, env)
    assert failed.value.non_retryable and "schedule:v1" in failed.value.message
    assert not env.store().schedules()
    env.close()


def test_worker_and_target_flags_are_checked_before_connecting(tmp_path: Path) -> None:
    unreachable = ["worker", "--backend", "temporal", "--address", "127.0.0.1:9"]
    missing = run_jctl(*unreachable, "--secrets", str(tmp_path / "absent.yaml"), "--db", str(tmp_path / "w.db"))
    assert missing.returncode == 2 and "absent.yaml" in missing.stderr
    config = run_jctl(*unreachable, "--plugin-config", str(tmp_path / "absent.yaml"), "--db", str(tmp_path / "w.db"))
    assert config.returncode == 2 and "plugin config" in config.stderr
    path = write_journey(tmp_path, {"done": {"type": "succeed"}}, "done")
    header = run_jctl("run", str(path), "--header", "Authorization=Bearer x", "--target",
                      "temporal://127.0.0.1:9/default")
    assert header.returncode == 2 and "--header" in header.stderr
    step = run_jctl("signal", "abc", "-p", "{}", "--client-cert", str(path), "--target", "temporal://127.0.0.1:9/default")
    assert step.returncode == 2 and "--client-cert" in step.stderr
