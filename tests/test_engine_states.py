"""Each state type end to end: real SQLite store in tmp_path, real expression engines, mocked HTTP via the
declarative mocks transport."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from jctl.engine.errors import InvalidInput, InvalidSpec
from conftest import jsonata, write_journey
from jctl.engine.runner import Runner
from jctl.store import Store




@pytest.fixture
def runner(tmp_path: Path) -> Runner:
    return Runner(Store.open(tmp_path / "jctl.db"))


def test_transform_targets_and_succeed_output(runner: Runner, tmp_path: Path):
    states = {
        "nested": {"type": "transform", "transform": {"mapper": jsonata('{"n": context.x + 1}'),
                                                      "target": {"kind": "context", "path": "a.b"}},
                   "next": "asVar"},
        "asVar": {"type": "transform", "transform": {"mapper": jsonata("context.a.b.n * 10"),
                                                     "target": {"kind": "var"}, "resultVar": "tenfold"},
                  "next": "whole"},
        "whole": {"type": "transform", "transform": {"mapper": jsonata(
            '{"status": "DONE", "tenfold": context.tenfold, "x": context.x}'), "target": {"kind": "context",
                                                                                         "path": ""}},
                  "next": "done"},
        "done": {"type": "succeed"},
    }
    outcome = runner.start(write_journey(tmp_path, states, "nested"), {"x": 1})
    assert outcome["phase"] == "SUCCEEDED", outcome
    assert outcome["output"] == {"status": "DONE", "tenfold": 20, "x": 1}
    assert outcome["status"] == "DONE"  # mirrors output.status
    assert outcome["_links"]["self"]["href"].endswith("/result")


def test_choice_takes_first_match_then_default(runner: Runner, tmp_path: Path):
    states = {
        "route": {"type": "choice", "choices": [
            {"when": {"predicate": jsonata("context.n > 10")}, "next": "big"},
            {"when": {"predicate": jsonata("context.n > 5")}, "next": "medium"},
            {"when": {"predicate": jsonata("context.n > 1")}, "next": "small"}], "default": "tiny"},
        "big": {"type": "fail", "errorCode": "BIG", "reason": "big"},
        "medium": {"type": "fail", "errorCode": "MEDIUM", "reason": "medium"},
        "small": {"type": "succeed"},
        "tiny": {"type": "fail", "errorCode": "TINY", "reason": "tiny"},
    }
    path = write_journey(tmp_path, states, "route")
    assert runner.start(path, {"n": 7})["error"] == {"code": "MEDIUM", "reason": "medium"}
    assert runner.start(path, {"n": 11})["error"]["code"] == "BIG"
    assert runner.start(path, {"n": 0})["error"]["code"] == "TINY"
    succeeded = runner.start(path, {"n": 2})
    assert succeeded["phase"] == "SUCCEEDED" and succeeded["status"] == "SUCCEEDED"


def test_dataweave_transform_and_bare_result_names(runner: Runner, tmp_path: Path):
    states = {
        "shape": {"type": "transform", "transform": {
            "mapper": {"lang": "dataweave", "expr": "context ++ { total: context.price * context.qty }"},
            "target": {"kind": "context", "path": ""}}, "next": "done"},
        "done": {"type": "succeed", "outputVar": "total"},
    }
    outcome = runner.start(write_journey(tmp_path, states, "shape"), {"price": 3, "qty": 4})
    assert outcome["phase"] == "SUCCEEDED" and outcome["output"] == 12


def test_http_task_result_error_mapping_and_history_redaction(runner: Runner, tmp_path: Path):
    states = {
        "call": {"type": "task", "task": {
            "kind": "httpCall:v1", "method": "GET", "url": "https://api.example.com/items/${context.id}",
            "headers": {"Authorization": "Bearer s3cret"}, "resultVar": "item",
            "errorMapping": {"when": "nonOk", "mapper": jsonata('{"type": "upstream", "status": payload.status}'),
                             "target": {"kind": "context", "path": "problem"}}}, "next": "done"},
        "done": {"type": "succeed"},
    }
    mocks = {"mocks": [{"match": {"method": "GET", "url": "https://api.example.com/items/*"},
                        "respond": {"status": 404, "body": {"message": "no"}}}]}
    outcome = runner.start(write_journey(tmp_path, states, "call"), {"id": "i1"}, mocks=mocks)
    assert outcome["output"]["item"]["status"] == 404 and outcome["output"]["item"]["ok"] is False
    assert outcome["output"]["problem"] == {"type": "upstream", "status": 404}
    history = runner.store.history(outcome["journeyId"])
    call = next(e for e in history if "http" in e.data)
    assert call.data["http"]["url"] == "https://api.example.com/items/i1"
    assert call.data["http"]["headers"]["Authorization"] == "***"


def test_unmatched_request_under_mocks_is_a_network_result(runner: Runner, tmp_path: Path):
    states = {"call": {"type": "task", "task": {"kind": "httpCall:v1", "method": "POST",
                                                "url": "https://nowhere.example.com/x", "resultVar": "r"},
                       "next": "done"}, "done": {"type": "succeed", "outputVar": "r"}}
    outcome = runner.start(write_journey(tmp_path, states, "call"), {}, mocks={"mocks": []})
    assert outcome["output"]["error"]["type"] == "NETWORK"
    assert "POST https://nowhere.example.com/x" in outcome["output"]["error"]["message"]


def test_expression_failure_fails_the_instance_with_a_clear_error(runner: Runner, tmp_path: Path):
    states = {"broken": {"type": "choice", "choices": [{"when": {"predicate": jsonata("$number(context.word) > 1")},
                                                        "next": "done"}], "default": "done"},
              "done": {"type": "succeed"}}
    outcome = runner.start(write_journey(tmp_path, states, "broken"), {"word": "abc"})
    assert outcome["phase"] == "FAILED"
    assert outcome["error"]["code"] == "EXPRESSION_ERROR" and "broken" in outcome["error"]["reason"]


def test_a_publish_in_a_branch_commits_with_the_parallel_transition(runner: Runner, tmp_path: Path):
    """A publish inside a parallel branch rides on the transition of the parallel state: one record, committed with
    the event that completes the parallel."""
    publish = {"type": "task", "task": {"kind": "kafkaPublish:v1", "topic": "t", "value": {"mapper": jsonata("context")}},
               "next": "end"}
    branch = {"name": "b", "start": "publish", "states": {"publish": publish, "end": {"type": "succeed"}}}
    states = {"fan": {"type": "parallel", "parallel": {"branches": [branch], "join": {"strategy": "allOf"}},
                      "next": "done"}, "done": {"type": "succeed"}}
    outcome = runner.start(write_journey(tmp_path, states, "fan"), {"n": 1})
    assert outcome["phase"] == "SUCCEEDED"
    [record] = runner.store.outbox()
    assert (record.topic, record.value, record.state, record.instance_id) == ("t", {"n": 1}, "publish",
                                                                               outcome["journeyId"])
    [completed] = [e for e in runner.store.history(outcome["journeyId"])
                   if e.state == "fan" and e.type == "state.completed"]
    assert record.at == completed.at


def test_parallel_branches_join_and_subjourney(runner: Runner, tmp_path: Path):
    branch = lambda n: {"name": f"b{n}", "start": "calc", "states": {  # noqa: E731
        "calc": {"type": "transform", "transform": {"mapper": jsonata(f"context.x * {n}"),
                                                    "target": {"kind": "var"}, "resultVar": "v"}, "next": "end"},
        "end": {"type": "succeed", "outputVar": "v"}}}
    states = {
        "fan": {"type": "parallel", "parallel": {"branches": [branch(2), branch(3)], "join": {
            "strategy": "allOf", "mapper": jsonata("branches.b2.output + branches.b3.output"), "resultVar": "sum"}},
                "next": "sub"},
        "sub": {"type": "subjourney", "subjourney": {"ref": "double", "input": {"mapper": jsonata(
            '{"n": context.sum}')}, "resultVar": "doubled"}, "next": "done"},
        "done": {"type": "succeed"},
    }
    subjourneys = {"double": {"start": "d", "states": {
        "d": {"type": "transform", "transform": {"mapper": jsonata("context.n * 2"), "target": {"kind": "var"},
                                                 "resultVar": "out"}, "next": "e"},
        "e": {"type": "succeed", "outputVar": "out"}}}}
    outcome = runner.start(write_journey(tmp_path, states, "fan", subjourneys=subjourneys), {"x": 2})
    assert outcome["output"]["sum"] == 10 and outcome["output"]["doubled"] == 20


def test_invalid_input_creates_nothing(runner: Runner, tmp_path: Path):
    path = write_journey(tmp_path, {"done": {"type": "succeed"}}, "done",
                         input={"schema": {"type": "object", "required": ["orderId"],
                                           "properties": {"orderId": {"type": "string"}}}})
    with pytest.raises(InvalidInput) as raised:
        runner.start(path, {"orderId": 5})
    assert any("orderId" in v for v in raised.value.violations)
    assert runner.store.list_instances() == []


def test_spec_with_lint_errors_is_refused(runner: Runner, tmp_path: Path):
    path = write_journey(tmp_path, {"a": {"type": "transform", "next": "missing"}}, "a")
    with pytest.raises(InvalidSpec) as raised:
        runner.start(path, {})
    assert raised.value.diagnostics
    assert runner.store.list_instances() == []


def test_transition_limit_stops_an_endless_loop(tmp_path: Path):
    runner = Runner(Store.open(tmp_path / "jctl.db"), limits={"maxTransitions": 50})
    states = {"a": {"type": "transform", "transform": {"mapper": jsonata("1"), "target": {"kind": "var"},
                                                       "resultVar": "x"}, "next": "b"},
              "b": {"type": "choice", "choices": [{"when": {"predicate": jsonata("true")}, "next": "a"}],
                    "default": "a"}}
    outcome = runner.start(write_journey(tmp_path, states, "a"), {})
    assert outcome["error"]["code"] == "TRANSITION_LIMIT"


def test_non_boolean_predicate_at_runtime_fails_the_instance(runner: Runner, tmp_path: Path):
    states = {"route": {"type": "choice", "choices": [{"when": {"predicate": jsonata("context.flag")},
                                                       "next": "done"}], "default": "done"},
              "done": {"type": "succeed"}}
    outcome = runner.start(write_journey(tmp_path, states, "route"), {"flag": "yes"})
    assert outcome["error"]["code"] == "EXPRESSION_ERROR" and "not a boolean" in outcome["error"]["reason"]


def test_timer_until_from_a_mapper_and_attributes_target(runner: Runner, tmp_path: Path):
    from datetime import timedelta

    from jctl.clock import format_rfc3339

    until = format_rfc3339(runner.store.now() + timedelta(minutes=5))
    states = {
        "tag": {"type": "transform", "transform": {"mapper": jsonata('{"orderId": context.id, "size": 3}'),
                                                   "target": {"kind": "attributes"}}, "next": "sleep"},
        "sleep": {"type": "timer", "timer": {"until": {"mapper": jsonata("context.wakeAt")}}, "next": "done"},
        "done": {"type": "succeed"},
    }
    status = runner.start(write_journey(tmp_path, states, "tag"), {"id": "o-1", "wakeAt": until})
    assert status["attributes"] == {"orderId": "o-1", "size": "3"}
    assert runner.advance(timedelta(minutes=4, seconds=59)) == []
    runner.advance(timedelta(seconds=1))
    assert runner.status(status["journeyId"])["phase"] == "SUCCEEDED"


def test_output_response_projection_into_the_outcome(runner: Runner, tmp_path: Path):
    states = {"build": {"type": "transform", "transform": {"mapper": jsonata(
        '{"status": "OK", "reportId": "r1", "phase": "sneaky"}'), "target": {"kind": "var"}, "resultVar": "result"},
        "next": "done"}, "done": {"type": "succeed", "outputVar": "result"}}
    path = write_journey(tmp_path, states, "build", output={"response": {"outputVar": "result",
                                                                          "schema": {"type": "object"}}})
    outcome = runner.start(path, {})
    assert outcome["reportId"] == "r1" and outcome["phase"] == "SUCCEEDED"  # reserved fields are not overridden


def test_error_mapping_payload_keeps_the_network_error_of_the_result(runner: Runner, tmp_path: Path):
    """`payload` is the stored result object; the TIMEOUT/NETWORK error in it must reach the mapper."""
    states = {
        "call": {"type": "task", "task": {
            "kind": "httpCall:v1", "method": "GET", "url": "https://api.example.com/slow", "resultVar": "item",
            "errorMapping": {"when": "nonOk", "mapper": jsonata('{"kind": payload.error.type, "ok": payload.ok}'),
                             "target": {"kind": "var"}, "resultVar": "problem"}}, "next": "done"},
        "done": {"type": "succeed", "outputVar": "problem"},
    }
    mocks = {"mocks": [{"match": {"method": "GET", "url": "https://api.example.com/slow"},
                        "respond": {"error": "TIMEOUT"}}]}
    outcome = runner.start(write_journey(tmp_path, states, "call"), {}, mocks=mocks)
    assert outcome["output"] == {"kind": "TIMEOUT", "ok": False}


def test_choice_and_transform_see_the_step_payload_as_payload(runner: Runner, tmp_path: Path):
    states = {
        "ask": {"type": "wait", "wait": {"channel": "manual", "input": {"schema": {"type": "object"}}},
                "next": "route"},
        "route": {"type": "choice", "choices": [{"when": {"predicate": jsonata('payload.decision = "yes"')},
                                                 "next": "keep"}], "default": "no"},
        "keep": {"type": "transform", "transform": {"mapper": {"lang": "jq", "expr": ".payload.note"},
                                                    "target": {"kind": "var"}, "resultVar": "note"},
                 "next": "done"},
        "done": {"type": "succeed", "outputVar": "note"},
        "no": {"type": "fail", "errorCode": "NO", "reason": "declined"},
    }
    started = runner.start(write_journey(tmp_path, states, "ask"), {})
    outcome = runner.signal(started["journeyId"], {"decision": "yes", "note": "fine"})
    assert outcome["phase"] == "SUCCEEDED" and outcome["output"] == "fine"


def test_a_runaway_expression_fails_the_instance_within_its_deadline_and_the_next_run_works(tmp_path: Path):
    import time

    runner = Runner(Store.open(tmp_path / "jctl.db"), expr_timeout_s=1.0)
    spin = {"lang": "dataweave", "expr": "(1 to 2000000000) reduce ((item, total = 0) -> total + item)"}
    states = {"spin": {"type": "transform", "transform": {"mapper": spin, "target": {"kind": "var"},
                                                            "resultVar": "total"}, "next": "done"},
              "done": {"type": "succeed", "outputVar": "total"}}
    started = time.monotonic()
    outcome = runner.start(write_journey(tmp_path, states, "spin", name="spin"), {})
    assert time.monotonic() - started < 30  # a hang guard; the deadline itself is 1 s
    assert outcome["phase"] == "FAILED"
    assert outcome["error"]["code"] == "EXPRESSION_ERROR"
    assert "did not finish within 1 s" in outcome["error"]["reason"]
    quick = {"lang": "dataweave", "expr": "sizeOf([1, 2, 3])"}
    states["spin"]["transform"]["mapper"] = quick
    assert runner.start(write_journey(tmp_path, states, "spin", name="quick"), {})["output"] == 3


def test_seeded_uuids_repeat_across_runs_but_differ_between_sites(tmp_path: Path):
    def uuid_at(name: str) -> dict[str, Any]:
        return {"type": "transform", "transform": {"mapper": {"lang": "dataweave", "expr": "uuid()"},
                                                   "target": {"kind": "context", "path": name}}}

    states = {"first": {**uuid_at("a"), "next": "second"}, "second": {**uuid_at("b"), "next": "done"},
              "done": {"type": "succeed"}}
    spec = write_journey(tmp_path, states, "first", name="ids")
    runs = [Runner(Store.open(tmp_path / f"{n}.db"), uuid_seed="s-1").start(spec, {})["output"] for n in range(2)]
    assert runs[0] == runs[1]  # deterministic with a seed
    assert runs[0]["a"] != runs[0]["b"]  # but not one id for every call site
    unseeded = Runner(Store.open(tmp_path / "u.db")).start(spec, {})["output"]
    assert unseeded["a"] != runs[0]["a"]
