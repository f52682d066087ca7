"""The DSL's control flow through the real CLI: parallel joins (branch shape, anyOf/firstCompleted, errorPolicy),
pauses inside nested parallels and subjourneys, several active steps at once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import jsonata, write_journey
from test_cli_runner import Store, as_json

ASK = {"type": "wait", "wait": {"channel": "manual", "input": {"schema": {"type": "object"}}}}


def wait(nxt: str) -> dict[str, Any]:
    return {**ASK, "next": nxt}


def timer(duration: str, nxt: str) -> dict[str, Any]:
    return {"type": "timer", "timer": {"duration": duration}, "next": nxt}


def setvar(name: str, expr: str, nxt: str) -> dict[str, Any]:
    return {"type": "transform", "transform": {"mapper": jsonata(expr), "target": {"kind": "var"},
                                               "resultVar": name}, "next": nxt}


def branch(name: str, start: str, **states: Any) -> dict[str, Any]:
    return {"name": name, "start": start, "states": {**states, "end": {"type": "succeed"}}}


def parallel(branches: list[dict[str, Any]], nxt: str = "done", **join: Any) -> dict[str, Any]:
    return {"type": "parallel", "parallel": {"branches": branches, "join": join}, "next": nxt}


def journey(tmp_path: Path, states: dict[str, Any], start: str, **spec: Any) -> Path:
    return write_journey(tmp_path, {**states, "done": {"type": "succeed"}}, start, **spec)


@pytest.fixture
def own(tmp_path: Path) -> Store:
    return Store(tmp_path)


def refused_unchanged(own: Store, journey_id: str, *args: str, says: str) -> None:
    """A signal the engine must refuse (exit 1) without changing the instance or its history."""
    before, history = own.status(journey_id), own.history(journey_id)
    result = own("signal", journey_id, *args, code=1)
    assert says in result.stderr, result.stderr
    assert own.status(journey_id) == before and own.history(journey_id) == history


RACE = {"race": parallel([branch("answer", "ask", ask=wait("keep"), keep=setvar("said", "context.payload.v", "end")),
                          branch("sla", "nap", nap=timer("PT10M", "end"))],
                         strategy="anyOf", resultVar="race",
                         mapper=jsonata('{"answer": branches.answer.phase, "sla": branches.sla.phase, '
                                        '"said": branches.answer.context.said, '
                                        '"payload": branches.answer.context.payload}'))}


def test_join_sees_every_branch_as_phase_output_error_context(own: Store, tmp_path: Path):
    path = journey(tmp_path, RACE, "race")
    started = own.run(path, "{}")
    assert started["waitingFor"] == "parallel" and started["activeSteps"] == ["ask"]
    outcome = as_json(own("signal", started["journeyId"], "-p", '{"v": 7}', "-f", "json", code=0))
    assert outcome["output"]["race"] == {"answer": "SUCCEEDED", "sla": "CANCELLED", "said": 7, "payload": {"v": 7}}
    assert as_json(own("clock", "-f", "json", code=0))["nextDueAt"] is None  # the losing timer's work is gone
    assert own("clock", "advance", "PT1H", code=0).stdout.strip() == "nothing due"


def test_the_timer_wins_and_a_late_signal_to_the_cancelled_branch_is_refused(own: Store, tmp_path: Path):
    states = {**RACE, "race": {**RACE["race"], "next": "after"}, "after": wait("done")}
    started = own.run(journey(tmp_path, states, "race"), "{}")
    fired = own("clock", "advance", "PT10M", code=0).stdout
    assert "fired timer nap" in fired and "-> after" in fired
    assert own.status(started["journeyId"])["currentState"] == "after"
    refused_unchanged(own, started["journeyId"], "-p", '{"v": 1}', "--step", "ask", says="not active")
    outcome = as_json(own("signal", started["journeyId"], "-p", "{}", "-f", "json", code=0))
    assert outcome["output"]["race"] == {"answer": "CANCELLED", "sla": "SUCCEEDED"}


def failing_race(strategy: str, **join: Any) -> dict[str, Any]:
    return {"race": parallel([branch("broken", "boom", boom={"type": "fail", "errorCode": "NOPE", "reason": "no"}),
                              branch("answer", "ask", ask=wait("end"))], strategy=strategy, **join)}


def test_first_completed_decides_on_a_failure_where_any_of_waits_for_a_success(own: Store, tmp_path: Path):
    mapper = jsonata('{"broken": branches.broken.phase, "code": branches.broken.error.code, '
                     '"answer": branches.answer.phase}')
    first = own.run(journey(tmp_path, failing_race("firstCompleted", mapper=mapper, resultVar="r"), "race"), "{}")
    assert first["phase"] == "SUCCEEDED"
    assert first["output"]["r"] == {"broken": "FAILED", "code": "NOPE", "answer": "CANCELLED"}
    anyof = own.run(journey(tmp_path, failing_race("anyOf", mapper=mapper, resultVar="r"), "race"), "{}")
    assert anyof["phase"] == "RUNNING" and anyof["activeSteps"] == ["ask"]
    outcome = as_json(own("signal", anyof["journeyId"], "-p", "{}", "-f", "json", code=0))
    assert outcome["output"]["r"] == {"broken": "FAILED", "code": "NOPE", "answer": "SUCCEEDED"}


def test_error_policies(own: Store, tmp_path: Path):
    fast = own.run(journey(tmp_path, failing_race("allOf", errorPolicy="failFast"), "race"), "{}", code=1)
    assert fast["phase"] == "FAILED" and fast["error"]["code"] == "BRANCH_FAILED"
    assert "broken: NOPE no" in fast["error"]["reason"]
    assert "already finished" in own("signal", fast["journeyId"], "-p", "{}", code=1).stderr
    collect = own.run(journey(tmp_path, failing_race("allOf", errorPolicy="collectAll"), "race"), "{}")
    assert collect["activeSteps"] == ["ask"]  # collectAll lets the other branches finish first
    failed = as_json(own("signal", collect["journeyId"], "-p", "{}", "-f", "json", code=1))
    assert failed["phase"] == "FAILED" and failed["error"]["code"] == "BRANCH_FAILED"
    ignore = own.run(journey(tmp_path, failing_race("allOf", errorPolicy="ignoreErrors", resultVar="all"),
                             "race"), "{}")
    done = as_json(own("signal", ignore["journeyId"], "-p", '{"x": 1}', "-f", "json", code=0))
    assert done["phase"] == "SUCCEEDED"
    assert done["output"]["all"]["broken"]["phase"] == "FAILED"
    assert done["output"]["all"]["answer"]["context"]["payload"] == {"x": 1}


NESTED = {
    "fan": parallel([
        branch("outer", "inner", inner=parallel([branch("left", "askLeft", askLeft=wait("end")),
                                                  branch("right", "nap", nap=timer("PT5M", "end"))],
                                                 nxt="end", strategy="allOf")),
        branch("sub", "call", call={"type": "subjourney", "subjourney": {
            "ref": "approve", "resultVar": "approval", "resultKind": "outcome"}, "next": "end"}),
    ], strategy="allOf", resultVar="all",
        mapper=jsonata('{"outer": branches.outer.phase, "approval": branches.sub.context.approval}')),
}
APPROVE = {"approve": {"start": "askBoss", "states": {"askBoss": wait("ok"), "ok": {
    "type": "succeed", "outputVar": "payload"}}}}


def test_pauses_inside_nested_parallels_and_subjourneys(own: Store, tmp_path: Path):
    path = journey(tmp_path, NESTED, "fan", subjourneys=APPROVE)
    started = own.run(path, "{}")
    journey_id = started["journeyId"]
    assert sorted(started["activeSteps"]) == ["askBoss", "askLeft"]
    assert {"askBoss", "askLeft"} <= set(started["_links"])
    text = own("status", journey_id, code=0).stdout
    assert "askBoss" in text and "askLeft" in text
    refused_unchanged(own, journey_id, "-p", "{}", says="several steps are active")
    refused_unchanged(own, journey_id, "-p", "{}", "--step", "nap", says="not active")
    after = as_json(own("signal", journey_id, "-p", '{"boss": "yes"}', "--step", "askBoss", "-f", "json", code=0))
    assert after["activeSteps"] == ["askLeft"] and "askBoss" not in after["_links"]
    assert "fired timer nap" in own("clock", "advance", "PT5M", code=0).stdout
    outcome = as_json(own("signal", journey_id, "-p", "{}", "--step", "outer/left/askLeft", "-f", "json", code=0))
    assert outcome["phase"] == "SUCCEEDED", outcome
    assert outcome["output"]["all"] == {"outer": "SUCCEEDED", "approval": {
        "phase": "SUCCEEDED", "terminationKind": "Success", "output": {"boss": "yes"},
        "error": {"code": None, "reason": None}}}
    history = own.history(journey_id)
    waiting = [e for e in history if e["type"] == "parallel.waiting" and "branch" not in e["data"]]
    assert len(waiting[0]["data"]["branches"]) == 2
    assert all("branches" not in e["data"] and e["data"]["changed"] for e in waiting[1:])
    # the steps inside the branches are history of their own, each naming its record's path
    steps = [(e["type"], e["state"], e["data"].get("branch")) for e in history if "branch" in e["data"]]
    assert ("parallel.waiting", "inner", "outer") in steps  # the inner parallel, entered once
    assert ("step.waiting", "askLeft", "outer/left") in steps and ("step.waiting", "askBoss", "sub/approve") in steps
    assert ("timer.scheduled", "nap", "outer/right") in steps and ("branch.timer", "nap", "outer/right") in steps
    assert ("branch.signal", "askLeft", "outer/left") in steps
    assert ("branch.succeeded", "end", "outer/left") in steps and ("branch.succeeded", "ok", "sub/approve") in steps
    assert [e["state"] for e in history if e["type"] == "journey.succeeded"] == ["done"]


SUBFLOW = {"start": "askAgent", "states": {
    "askAgent": {**ASK, "next": "check"},
    "check": {"type": "choice", "choices": [{"when": {"predicate": jsonata("context.payload.ok = true")},
                                             "next": "yes"}], "default": "no"},
    "yes": {"type": "succeed", "outputVar": "payload"},
    "no": {"type": "fail", "errorCode": "AGENT_SAID_NO", "reason": "refused"}}}


@pytest.mark.parametrize("behavior", ["propagate", "capture"])
def test_a_subjourney_pauses_and_its_failure_propagates_or_is_captured(own: Store, tmp_path: Path, behavior: str):
    states = {"sub": {"type": "subjourney", "subjourney": {
        "ref": "agent", "input": {"mapper": jsonata('{"case": context.case}')}, "resultVar": "agent",
        "onFailure": {"behavior": behavior}}, "next": "done"}}
    path = journey(tmp_path, states, "sub", subjourneys={"agent": SUBFLOW})
    yes = own.run(path, '{"case": 1}')
    assert yes["waitingFor"] == "subjourney" and yes["activeSteps"] == ["askAgent"]
    refused_unchanged(own, yes["journeyId"], "-p", "{}", "--step", "check", says="not active")
    done = as_json(own("signal", yes["journeyId"], "-p", '{"ok": true}', "-f", "json", code=0))
    assert done["phase"] == "SUCCEEDED" and done["output"]["agent"] == {"ok": True}
    no = own.run(path, '{"case": 2}')
    result = as_json(own("signal", no["journeyId"], "-p", '{"ok": false}', "--step", "askAgent", "-f", "json",
                         code=1 if behavior == "propagate" else 0))
    if behavior == "propagate":
        assert result["phase"] == "FAILED" and result["error"]["code"] == "AGENT_SAID_NO"
    else:
        assert result["phase"] == "SUCCEEDED" and result["output"]["agent"] is None


def test_a_step_timeout_inside_a_subjourney_fires_on_the_clock(own: Store, tmp_path: Path):
    flow = {"start": "ask", "states": {"ask": {**ASK, "wait": {**ASK["wait"], "timeoutSec": 60, "onTimeout": "late"},
                                               "next": "ok"},
                                       "ok": {"type": "succeed"},
                                       "late": {"type": "fail", "errorCode": "TOO_LATE", "reason": "late"}}}
    states = {"sub": {"type": "subjourney", "subjourney": {"ref": "f", "resultVar": "r", "resultKind": "outcome",
                                                           "onFailure": {"behavior": "capture"}}, "next": "done"}}
    started = own.run(journey(tmp_path, states, "sub", subjourneys={"f": flow}), "{}")
    assert "timed out step ask" in own("clock", "advance", "PT1M", code=0).stdout
    outcome = own.status(started["journeyId"])
    assert outcome["output"]["r"]["phase"] == "FAILED" and outcome["output"]["r"]["error"]["code"] == "TOO_LATE"
    assert json.dumps(outcome)  # plain JSON all the way


# -- the callback/SLA race of specs/examples/verification-race -----------------------------------------------------

RACE_DIR = Path(__file__).resolve().parents[1] / "specs" / "examples" / "verification-race"
RACE_SPEC, RACE_MOCKS = RACE_DIR / "verification-race.journey.yaml", RACE_DIR / "verification-race.mocks.yaml"


def start_race(own: Store, case_id: str) -> str:
    started = own.run(RACE_SPEC, json.dumps({"caseId": case_id}), "--mocks", str(RACE_MOCKS))
    assert started["currentState"] == "callbackOrSla" and started["activeSteps"] == ["awaitCallback"]
    return str(started["journeyId"])


def urls(own: Store, journey_id: str) -> list[str]:
    calls = []
    for event in own.history(journey_id):
        http = event["data"].get("http")
        calls += [c["url"] for c in (http if isinstance(http, list) else [http] if http else [])]
    return calls


def test_race_callback_wins_and_the_sla_timer_never_fires(own: Store):
    journey_id = start_race(own, "c-1")
    outcome = as_json(own("signal", journey_id, "-p", '{"verdict": "PASS"}', "-f", "json", code=0))
    assert outcome["output"] == {"status": "DOCUMENT_VERIFIED", "source": "callback"}
    assert own("clock", "advance", "PT2H", code=0).stdout.strip() == "nothing due"
    assert not [e for e in own.history(journey_id) if e["type"] in ("timer.fired", "branch.timer")]


def test_race_sla_wins_a_late_callback_is_refused_and_a_recovery_poll_succeeds(own: Store):
    journey_id = start_race(own, "recover-1")
    assert own("clock", "advance", "PT10M", code=0).stdout.strip() == \
        f"fired timer slaTimer for verification-race {journey_id[:8]} -> backoff"
    refused_unchanged(own, journey_id, "-p", '{"verdict": "PASS"}', says="no step is waiting")
    refused_unchanged(own, journey_id, "-p", '{"verdict": "PASS"}', "--step", "awaitCallback", says="no step")
    fired = own("clock", "advance", "PT3M", code=0).stdout.splitlines()
    assert fired == [f"fired timer backoff for verification-race {journey_id[:8]} -> backoff",
                     f"fired timer backoff for verification-race {journey_id[:8]} -> SUCCEEDED"]
    assert own.status(journey_id)["output"] == {"status": "DOCUMENT_VERIFIED", "source": "poll"}
    assert urls(own, journey_id)[1:] == ["https://docs-primary.example.com/checks/recover-1"] * 2


def test_race_sla_wins_and_the_fallback_provider_verifies(own: Store):
    journey_id = start_race(own, "slow-1")
    own("clock", "advance", "PT10M", code=0)
    assert own("clock", "advance", "PT6M59S", code=0).stdout.count("fired timer backoff") == 2
    assert own.status(journey_id)["currentState"] == "backoff"  # the third poll is due 4 minutes after the second
    assert own("clock", "advance", "PT1S", code=0).stdout.strip().endswith("-> SUCCEEDED")
    assert own.status(journey_id)["output"] == {"status": "DOCUMENT_VERIFIED", "source": "fallback"}
    assert urls(own, journey_id)[1:] == ["https://docs-primary.example.com/checks/slow-1"] * 3 + [
        "https://docs-fallback.example.com/verify/slow-1"]
    assert "already finished" in own("signal", journey_id, "-p", '{"verdict": "PASS"}', code=1).stderr


# -- lifecycle: time budget, output schema, named outcomes --------------------------------------------------------


def test_max_duration_clamps_step_and_http_timeouts_to_the_time_left(own: Store, tmp_path: Path):
    states = {"nap": timer("PT58S", "call"),
              "call": {"type": "task", "task": {"kind": "httpCall:v1", "method": "GET", "url": "https://x.example.com/",
                                                "timeoutMs": 10000, "resultVar": "r"}, "next": "ask"},
              "ask": {"type": "wait", "wait": {"channel": "manual", "input": {"schema": {"type": "object"}},
                                               "timeoutSec": 3600, "onTimeout": "done"}, "next": "done"}}
    mocks = tmp_path / "m.yaml"
    mocks.write_text('mocks:\n  - match: {url: "https://x.example.com/"}\n    respond: {status: 200}\n')
    path = journey(tmp_path, states, "nap", execution={"maxDurationSec": 60, "onTimeout": {
        "errorCode": "OUT_OF_TIME", "reason": "budget"}})
    journey_id = own.run(path, "{}", "--mocks", str(mocks))["journeyId"]
    own("clock", "advance", "PT58S", code=0)
    history = own.history(journey_id)
    call = next(e for e in history if e["state"] == "call" and e["type"] == "state.completed")
    assert call["data"]["http"]["timeoutMs"] == 2000
    waiting = next(e for e in history if e["type"] == "step.waiting")
    assert waiting["data"]["timeoutSec"] == 2 and waiting["data"]["configuredTimeoutSec"] == 3600
    own("clock", "advance", "PT2S", code=0)
    assert own.status(journey_id)["error"]["code"] == "OUT_OF_TIME"


def test_output_schema_violations_are_recorded_and_outcomes_classify_the_result(own: Store, tmp_path: Path):
    states = {"set": setvar("result", '{"status": context.status}', "finish"),
              "finish": {"type": "succeed", "outputVar": "result"}}
    spec = {"output": {"schema": {"type": "object", "properties": {"status": {"enum": ["OK"]}}}},
            "outcomes": {"Fine": {"when": {"phase": "SUCCEEDED", "predicate": jsonata('output.status = "OK"')}},
                         "Odd": {"when": {"phase": "SUCCEEDED"}}}}
    path = journey(tmp_path, states, "set", **spec)
    fine = own.run(path, '{"status": "OK"}')
    assert fine["outcomeId"] == "Fine" and "outputViolations" not in fine
    odd = own.run(path, '{"status": "MAYBE"}')
    assert odd["phase"] == "SUCCEEDED" and odd["outcomeId"] == "Odd"
    assert odd["outputViolations"] and "status" in odd["outputViolations"][0]
    assert "outputViolations" in own("status", odd["journeyId"], code=0).stdout
    assert [e for e in own.history(odd["journeyId"]) if e["type"] == "output.invalid"]


# -- compensation ---------------------------------------------------------------------------------------------------

UNDO = "https://undo.example.com/charges"


def compensated(tmp_path: Path, mode: str) -> tuple[Path, Path]:
    states = {"route": {"type": "choice", "choices": [
        {"when": {"predicate": jsonata('context.how = "fail"')}, "next": "boom"},
        {"when": {"predicate": jsonata('context.how = "wait"')}, "next": "ask"}], "default": "finish"},
        "boom": {"type": "fail", "errorCode": "CHARGE_FAILED", "reason": "declined"},
        "ask": wait("finish"),
        "finish": {"type": "succeed", "outputVar": "result"}}
    compensation = {"mode": mode, "start": "undo", "alsoFor": [{"when": {"predicate": jsonata(
        'output.partial = true')}}], "states": {
        "undo": {"type": "task", "task": {"kind": "httpCall:v1", "method": "POST", "url": UNDO, "timeoutMs": 1000,
                                          "body": {"mapper": jsonata('{"why": outcome.terminationKind}')},
                                          "resultVar": "undone"}, "next": "note"},
        "note": setvar("cause", '{"kind": outcome.terminationKind, "code": outcome.error.code, '
                                '"at": outcome.terminatedAtState, "order": context.order}', "end"),
        "end": {"type": "succeed", "outputVar": "cause"}}}
    mocks = tmp_path / "undo.mocks.yaml"
    mocks.write_text(f'mocks:\n  - match: {{url: "{UNDO}"}}\n    respond: {{status: 200}}\n')
    return journey(tmp_path, states, "route", compensation=compensation), mocks


def test_sync_compensation_runs_before_the_outcome_and_keeps_the_phase(own: Store, tmp_path: Path):
    path, mocks = compensated(tmp_path, "sync")
    failed = own.run(path, '{"how": "fail", "order": "o-1"}', "--mocks", str(mocks), code=1)
    assert failed["phase"] == "FAILED" and failed["error"]["code"] == "CHARGE_FAILED"
    assert failed["compensation"] == {"mode": "sync", "phase": "SUCCEEDED", "error": None, "output": {
        "kind": "Fail", "code": "CHARGE_FAILED", "at": "boom", "order": "o-1"}}
    done = next(e for e in own.history(failed["journeyId"]) if e["type"] == "compensation.completed")
    assert done["data"]["http"][0]["url"] == UNDO
    fine = own.run(path, '{"how": "ok", "result": {"partial": false}}', "--mocks", str(mocks))
    assert fine["phase"] == "SUCCEEDED" and "compensation" not in fine
    partial = own.run(path, '{"how": "ok", "result": {"partial": true}}', "--mocks", str(mocks))
    assert partial["phase"] == "SUCCEEDED" and partial["compensation"]["output"]["kind"] == "Success"


def test_async_compensation_is_a_linked_instance_after_a_cancel(own: Store, tmp_path: Path):
    path, mocks = compensated(tmp_path, "async")
    waiting = own.run(path, '{"how": "wait", "order": "o-2"}', "--mocks", str(mocks))
    cancelled = as_json(own("cancel", waiting["journeyId"], "-f", "json", code=0))
    assert cancelled["phase"] == "FAILED" and cancelled["error"]["code"] == "JOURNEY_CANCELLED"
    linked = cancelled["compensation"]["journeyId"]
    assert cancelled["compensation"]["mode"] == "async"
    assert own.status(linked)["journeyName"] == "demo.compensation" and linked in own.ids()
    assert "ran for demo.compensation" in own("tick", code=0).stdout
    outcome = own.status(linked)
    assert outcome["phase"] == "SUCCEEDED" and outcome["compensationOf"] == waiting["journeyId"]
    assert outcome["output"] == {"kind": "Cancel", "code": "JOURNEY_CANCELLED", "at": "ask", "order": "o-2"}
    assert own.status(waiting["journeyId"])["phase"] == "FAILED"  # compensation never changes the original


# -- metadata ---------------------------------------------------------------------------------------------------


def test_metadata_bindings_limits_write_once_attributes_and_list_filters(own: Store, tmp_path: Path):
    states = {"mark": {"type": "transform", "transform": {"mapper": jsonata('{"stage": context.stage}'),
                                                          "target": {"kind": "attributes"}}, "next": "again"},
              "again": {"type": "transform", "transform": {"mapper": jsonata('{"orderId": "other"}'),
                                                           "target": {"kind": "attributes"}}, "next": "done"}}
    bindings = {"tags": {"fromPayload": [{"path": "channel"}]},
                "attributes": {"fromPayload": {"orderId": {"path": "order.id"}, "tenantId": {"path": "tenant"}}}}
    path = journey(tmp_path, states, "mark", metadata={"bindings": bindings})
    document = yaml.safe_load(path.read_text())
    document["metadata"]["tags"] = ["billing"]
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    failed = own.run(path, '{"channel": "web", "order": {"id": "o-9"}, "tenant": "acme", "stage": "new"}', code=1)
    assert failed["tags"] == ["billing", "web"]
    assert failed["attributes"] == {"orderId": "o-9", "tenantId": "acme", "stage": "new"}
    assert failed["error"]["code"] == "ATTRIBUTE_ALREADY_SET"  # attributes are write-once
    other = own.run(path, '{"channel": "mobile", "tenant": "zeta", "stage": "x"}')["journeyId"]  # no orderId yet
    listed = lambda *flags: [r["journeyId"] for r in as_json(own("list", *flags, "-f", "json", code=0))]  # noqa
    assert listed("--tag", "web") == [failed["journeyId"]]
    assert listed("--tag", "billing", "--attribute", "tenantId=zeta") == [other]
    assert listed("--attribute", "orderId=o-9", "--attribute", "tenantId=acme") == [failed["journeyId"]]
    assert listed("--tag", "nope") == []
    assert "KEY=VALUE" in own("list", "--attribute", "novalue", code=2).stderr
    before = own.ids()
    result = own("run", str(path), "--input", json.dumps({"channel": "x" * 41}), code=2)
    assert "metadata limits" in result.stderr and own.ids() == before


# -- errors: normalisers, Problem Details, the custom envelope ---------------------------------------------------


def test_normaliser_by_mapper_ref_and_a_custom_error_envelope(own: Store, tmp_path: Path):
    url = "https://orders.example.com/o"
    states = {"call": {"type": "task", "task": {
        "kind": "httpCall:v1", "method": "GET", "url": url, "timeoutMs": 1000, "resultVar": "api",
        "errorMapping": {"mapperRef": "ordersApi", "target": {"kind": "var"}, "resultVar": "problem"}},
        "next": "route"},
        "route": {"type": "choice", "choices": [{"when": {"predicate": jsonata("context.api.ok = false")},
                                                 "next": "broken"}], "default": "done"},
        "broken": {"type": "fail", "errorCode": "urn:orders:unavailable", "reason": "orders are down"}}
    errors = {"normalisers": {"ordersApi": {"mapper": jsonata(
        '{"type": "urn:orders:" & $string(error.status), "detail": error.body.message}')}},
        "envelope": {"format": "custom", "mapper": jsonata('{"fault": error.type, "text": error.title}')}}
    mocks = tmp_path / "orders.mocks.yaml"
    mocks.write_text(f'mocks:\n  - match: {{url: "{url}"}}\n    respond: {{status: 503, body: {{message: busy}}}}\n')
    failed = own.run(journey(tmp_path, states, "call", errors=errors), "{}", "--mocks", str(mocks), code=1)
    assert failed["problem"]["type"] == "urn:orders:unavailable" and failed["problem"]["title"] == "orders are down"
    assert failed["errorBody"] == {"fault": "urn:orders:unavailable", "text": "orders are down"}
    normalised = {**states, "broken": {"type": "succeed", "outputVar": "problem"}}
    plain = own.run(journey(tmp_path, normalised, "call", errors={"normalisers": errors["normalisers"]}), "{}",
                    "--mocks", str(mocks))
    assert plain["output"] == {"type": "urn:orders:503", "detail": "busy"}  # `error` is the HTTP result there
    plain = own.run(journey(tmp_path, states, "call", errors={"normalisers": errors["normalisers"]}), "{}",
                    "--mocks", str(mocks), code=1)
    assert "errorBody" not in plain and plain["problem"]["status"] == 500
