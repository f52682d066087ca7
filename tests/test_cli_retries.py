"""spec.policies.httpResilience through the CLI: retries wait out their backoff as due work on the simulated clock
(each command below is its own process), every attempt is in the history, and --seed fixes the jitter."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import write_journey
from test_cli_runner import Store, as_json

FLAKY = "https://flaky.example.com/x"
POLICIES = {"httpResilience": {"default": "standard", "definitions": {
    "standard": {"maxAttempts": 4, "retryOn": ["NETWORK_ERROR", "HTTP_5XX"],
                 "backoff": {"kind": "exponential", "baseDelayMs": 1000, "maxDelayMs": 3000, "jitter": "full"}},
    "fixed": {"maxAttempts": 3, "retryOn": ["HTTP_429"], "backoff": {"kind": "fixed", "baseDelayMs": 500}},
    "once": {"maxAttempts": 1}}}}


def spec(tmp_path: Path, task_extra: dict[str, Any] | None = None, **extra: Any) -> Path:
    task = {"kind": "httpCall:v1", "method": "GET", "url": FLAKY, "timeoutMs": 1000, "resultVar": "r",
            **(task_extra or {})}
    states = {"call": {"type": "task", "task": task, "next": "done"}, "done": {"type": "succeed", "outputVar": "r"}}
    return write_journey(tmp_path, states, "call", policies=POLICIES, **extra)


def mocks(tmp_path: Path, *responses: dict[str, Any]) -> Path:
    path = tmp_path / "flaky.mocks.yaml"
    path.write_text(yaml.safe_dump({"mocks": [{"match": {"method": "GET", "url": FLAKY},
                                               "respond": list(responses)}]}))
    return path


@pytest.fixture
def own(tmp_path: Path) -> Store:
    return Store(tmp_path)


def attempts(own: Store, journey_id: str) -> list[dict[str, Any]]:
    return [e["data"] for e in own.history(journey_id) if e["type"] in ("task.retrying", "state.completed")]


def test_retries_back_off_on_the_clock_and_every_attempt_is_recorded(own: Store, tmp_path: Path):
    flaky = mocks(tmp_path, {"status": 503}, {"error": "NETWORK"}, {"status": 200, "body": {"ok": 1}})
    started = own.run(spec(tmp_path), "{}", "--mocks", str(flaky), "--seed", "s1")
    journey_id = started["journeyId"]
    assert started["waitingFor"] == "retry" and started["currentState"] == "call"
    first = attempts(own, journey_id)[0]
    assert first["attempt"] == 1 and first["condition"] == "HTTP_5XX" and 0 <= first["delayMs"] < 1000
    clock = as_json(own("clock", "-f", "json", code=0))
    assert clock["nextDueAt"] == first["dueAt"]
    lines = own("clock", "advance", "PT10S", code=0).stdout.splitlines()
    assert lines == [f"retried task call for demo {journey_id[:8]} -> call",
                     f"retried task call for demo {journey_id[:8]} -> SUCCEEDED"]
    recorded = attempts(own, journey_id)
    assert [a["http"]["attempt"] for a in recorded] == [1, 2, 3]
    assert recorded[1]["condition"] == "NETWORK_ERROR" and 0 <= recorded[1]["delayMs"] < 2000
    assert own.status(journey_id)["output"]["body"] == {"ok": 1}
    again = own.run(spec(tmp_path), "{}", "--mocks", str(flaky), "--seed", "s1")["journeyId"]
    assert attempts(own, again)[0]["delayMs"] == first["delayMs"]  # the same seed draws the same jitter


def test_attempts_stop_at_max_attempts_and_only_listed_conditions_retry(own: Store, tmp_path: Path):
    down = mocks(tmp_path, {"status": 502})
    journey_id = own.run(spec(tmp_path), "{}", "--mocks", str(down))["journeyId"]
    own("tick", "--auto-advance", code=0)
    outcome = own.status(journey_id)
    assert outcome["phase"] == "SUCCEEDED" and outcome["output"]["status"] == 502  # the last result goes on
    assert [a["http"]["attempt"] for a in attempts(own, journey_id)] == [1, 2, 3, 4]
    limited = mocks(tmp_path, {"status": 429}, {"status": 429}, {"status": 429}, {"status": 200})
    throttled = own.run(spec(tmp_path), "{}", "--mocks", str(limited))  # standard does not retry 429
    assert throttled["phase"] == "SUCCEEDED" and throttled["output"]["status"] == 429
    fixed = own.run(spec(tmp_path, {"resiliencePolicyRef": "fixed"}), "{}", "--mocks", str(limited))["journeyId"]
    delays = [a.get("delayMs") for a in attempts(own, fixed)]
    assert delays == [500]
    own("clock", "advance", "PT1S", code=0)
    assert [a.get("delayMs") for a in attempts(own, fixed)] == [500, 500, None]
    assert own.status(fixed)["output"]["status"] == 429  # maxAttempts 3: the third 429 is the result


def test_the_default_policy_resolution(own: Store, tmp_path: Path):
    down = mocks(tmp_path, {"status": 500}, {"status": 200})
    by_task = own.run(spec(tmp_path, {"resiliencePolicyRef": "once"}), "{}", "--mocks", str(down))
    assert by_task["phase"] == "SUCCEEDED" and by_task["output"]["status"] == 500
    by_defaults = own.run(spec(tmp_path, defaults={"tasks": {"resiliencePolicyRef": "once"}}), "{}",
                          "--mocks", str(down))
    assert by_defaults["phase"] == "SUCCEEDED" and by_defaults["output"]["status"] == 500
    by_policies = own.run(spec(tmp_path), "{}", "--mocks", str(down))
    assert by_policies["waitingFor"] == "retry"
    assert json.dumps(by_policies)


def test_a_retry_inside_a_parallel_branch_waits_on_the_clock(own: Store, tmp_path: Path):
    flaky = mocks(tmp_path, {"status": 503}, {"status": 200, "body": {"ok": 2}})
    task = {"kind": "httpCall:v1", "method": "GET", "url": FLAKY, "timeoutMs": 1000, "resultVar": "r",
            "resiliencePolicyRef": "fixed"}
    fixed = {**POLICIES["httpResilience"]["definitions"], "fixed": {
        "maxAttempts": 2, "retryOn": ["HTTP_5XX"], "backoff": {"kind": "fixed", "baseDelayMs": 2000}}}
    branch = {"name": "fetch", "start": "call", "states": {"call": {"type": "task", "task": task, "next": "end"},
                                                           "end": {"type": "succeed", "outputVar": "r"}}}
    states = {"fan": {"type": "parallel", "parallel": {"branches": [branch], "join": {
        "strategy": "allOf", "mapper": {"lang": "jsonata", "expr": "branches.fetch.output.body"},
        "resultVar": "got"}}, "next": "done"}, "done": {"type": "succeed", "outputVar": "got"}}
    path = write_journey(tmp_path, states, "fan", policies={"httpResilience": {"definitions": fixed}})
    started = own.run(path, "{}", "--mocks", str(flaky))
    assert started["waitingFor"] == "parallel" and started["activeSteps"] == []
    assert own("clock", "advance", "PT1S", code=0).stdout.strip() == "nothing due"
    assert "retried task call" in own("clock", "advance", "PT1S", code=0).stdout
    assert own.status(started["journeyId"])["output"] == {"ok": 2}
