"""`jctl serve` end to end: a real uvicorn server on a free loopback port, real store, real runner."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from serving import running_server

from jctl.serve.engine import ServeSettings

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "specs" / "examples"
API = "/api/v1/journeys"
CLAIM = {"claimId": "c-1", "amount": 42.5}


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("serve") / "jctl.db"


@pytest.fixture(scope="module")
def client(db: Path) -> Iterator[httpx.Client]:
    import yaml

    mocks = yaml.safe_load((EXAMPLES / "identity-check" / "identity-check.mocks.yaml").read_text())
    settings = ServeSettings(folders=[EXAMPLES / "expense-approval", EXAMPLES / "identity-check"], db=db,
                             mocks=mocks, simulated_clock=True, tick_interval_s=0.05, max_body_bytes=4096)
    with running_server(settings) as base, httpx.Client(base_url=base, timeout=60) as http:
        yield http


def start(client: httpx.Client, name: str, body: Any, **headers: str) -> httpx.Response:
    return client.post(f"{API}/{name}/start", json=body, headers=headers)


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status and problem["code"] == code and problem["title"] and problem["detail"]
    return problem


def instance_count(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM instances").fetchone()[0])


def test_sync_start_answers_the_first_step_and_a_step_finishes_the_journey(client: httpx.Client) -> None:
    started = start(client, "expense-approval", CLAIM)
    assert started.status_code == 200
    status = started.json()
    assert status["phase"] == "RUNNING" and status["currentState"] == "awaitManagerDecision"
    journey_id = status["journeyId"]
    assert status["_links"]["awaitManagerDecision"]["href"] == f"{API}/{journey_id}/steps/awaitManagerDecision"
    assert_problem(client.get(f"{API}/{journey_id}/result"), 409, "NOT_TERMINAL")

    stepped = client.post(f"{API}/{journey_id}/steps/awaitManagerDecision", json={"decision": "APPROVE", "manager": "mia"})
    assert stepped.status_code == 200, stepped.text
    assert stepped.json()["phase"] == "SUCCEEDED"
    result = client.get(f"{API}/{journey_id}/result")
    assert result.status_code == 200
    assert result.json()["output"] == {"status": "EXPENSE_APPROVED", "claimId": "c-1", "approvedBy": "mia"}
    assert result.headers["X-Journey-Phase"] == "SUCCEEDED"
    assert_problem(client.post(f"{API}/{journey_id}/steps/awaitManagerDecision",
                               json={"decision": "APPROVE", "manager": "mia"}), 409, "STEP_NOT_ACTIVE")


def test_async_start_is_202_with_location_and_the_server_runs_it(client: httpx.Client) -> None:
    started = start(client, "identity-check", {"applicantId": "a-1"})
    assert started.status_code == 202
    body = started.json()
    assert started.headers["location"] == f"{API}/{body['journeyId']}" == body["statusUrl"]
    for _ in range(600):  # the server's tick loop runs the detached start; poll as a client would
        status = client.get(started.headers["location"]).json()
        if status["currentState"] != "startPrimaryCheck":
            break
        time.sleep(0.05)
    assert status["phase"] == "RUNNING" and status["currentState"] == "primaryOrSla"
    assert "awaitPrimaryResult" in status["_links"]


def test_start_idempotency_key_replays_and_never_starts_twice(client: httpx.Client, db: Path) -> None:
    first = start(client, "expense-approval", CLAIM, **{"Idempotency-Key": "start-k1"})
    before = instance_count(db)
    again = start(client, "expense-approval", CLAIM, **{"Idempotency-Key": "start-k1"})
    assert again.status_code == first.status_code == 200
    assert again.json() == first.json()
    reused = start(client, "expense-approval", {**CLAIM, "amount": 1}, **{"Idempotency-Key": "start-k1"})
    assert_problem(reused, 409, "IDEMPOTENCY_KEY_REUSED")
    assert instance_count(db) == before


def test_a_keyed_start_whose_answer_was_not_recorded_is_not_started_again(client: httpx.Client, db: Path) -> None:
    """The server died after committing the instance with its key, before the drive recorded the key's answer: the
    retry answers for that instance (driving it first when needed), and another body with the key is refused."""
    from jctl.engine.start import plan_start
    from jctl.serve.app import request_hash
    from jctl.store import KeyRecord, Store

    spec = EXAMPLES / "expense-approval" / "expense-approval.journey.yaml"
    with Store.open(db) as store:  # what the runner commits before it drives a keyed start
        plan = plan_start(spec, CLAIM, mocks=None, supplied_config={}, now=store.now(), detach=False)
        created = store.create_instance(plan.instance, plan.events, plan.due, request_hash=request_hash(CLAIM),
                                        start_key=KeyRecord("expense-approval/start-crash", None))
    before = instance_count(db)
    again = start(client, "expense-approval", CLAIM, **{"Idempotency-Key": "start-crash"})
    assert again.status_code == 200, again.text
    assert again.json()["journeyId"] == created.id and again.json()["currentState"] == "awaitManagerDecision"
    assert start(client, "expense-approval", CLAIM, **{"Idempotency-Key": "start-crash"}).json() == again.json()
    other = start(client, "expense-approval", {**CLAIM, "amount": 2}, **{"Idempotency-Key": "start-crash"})
    assert_problem(other, 409, "IDEMPOTENCY_KEY_REUSED")
    assert instance_count(db) == before


def test_step_idempotency_key_replays_the_first_answer(client: httpx.Client) -> None:
    journey_id = start(client, "expense-approval", CLAIM).json()["journeyId"]
    url, key = f"{API}/{journey_id}/steps/awaitManagerDecision", {"Idempotency-Key": "step-k1"}
    first = client.post(url, json={"decision": "REJECT", "manager": "max"}, headers=key)
    again = client.post(url, json={"decision": "APPROVE", "manager": "eve"}, headers=key)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json() and first.json()["phase"] == "FAILED"
    history = client.get(f"{API}/{journey_id}/result").json()
    assert history["error"]["code"] == "EXPENSE_REJECTED"


def test_cancel_is_the_canonical_cancel_step(client: httpx.Client) -> None:
    status = start(client, "expense-approval", CLAIM).json()
    cancelled = client.post(status["_links"]["cancel"]["href"])
    assert cancelled.status_code == 200
    assert cancelled.json()["phase"] == "FAILED" and cancelled.json()["error"]["code"] == "JOURNEY_CANCELLED"
    assert "cancel" not in client.get(f"{API}/{status['journeyId']}").json()["_links"]


def test_list_filters_like_jctl_list(client: httpx.Client) -> None:
    journey_id = start(client, "expense-approval", CLAIM).json()["journeyId"]
    listed = client.get(API, params={"journeyName": "expense-approval", "phase": "RUNNING"}).json()["items"]
    assert journey_id in [item["journeyId"] for item in listed]
    assert {item["journeyName"] for item in listed} == {"expense-approval"}
    assert {item["phase"] for item in listed} == {"RUNNING"}
    assert client.get(API, params={"tag": "no-such-tag"}).json()["items"] == []
    assert_problem(client.get(API, params={"phase": "DONE"}), 400, "BAD_QUERY")


def test_simulated_clock_endpoint_runs_what_falls_due(client: httpx.Client) -> None:
    journey_id = start(client, "expense-approval", CLAIM).json()["journeyId"]
    before = client.get("/_jctl/clock").json()["now"]
    moved = client.post("/_jctl/clock", json={"advance": "P1DT1M"})
    assert moved.status_code == 200 and moved.json()["now"] > before
    outcome = client.get(f"{API}/{journey_id}/result").json()
    assert outcome["error"]["code"] == "EXPENSE_DECISION_TIMEOUT"
    assert_problem(client.post("/_jctl/clock", json={"set": "1999-01-01T00:00:00Z"}), 400, "CLOCK_ERROR")
    assert_problem(client.post("/_jctl/clock", json={"advance": "soon"}), 400, "BAD_CLOCK_MOVE")


@pytest.mark.parametrize(("request_args", "status", "code"), [
    ({"content": b'{"claimId": ', "headers": {"content-type": "application/json"}}, 400, "MALFORMED_JSON"),
    ({"content": b"NaN", "headers": {"content-type": "application/json"}}, 400, "MALFORMED_JSON"),
    ({"content": b"claimId=1", "headers": {"content-type": "application/x-www-form-urlencoded"}}, 415,
     "UNSUPPORTED_MEDIA_TYPE"),
    ({"content": b'{"x": "' + b"a" * 5000 + b'"}', "headers": {"content-type": "application/json"}}, 413,
     "BODY_TOO_LARGE"),
    ({"json": {"claimId": 7}}, 400, "INVALID_INPUT"),
    ({"json": [1, 2]}, 400, "INVALID_INPUT"),
])
def test_bad_start_input_is_problem_details_and_changes_nothing(client: httpx.Client, db: Path,
                                                                request_args: dict[str, Any], status: int,
                                                                code: str) -> None:
    before = instance_count(db)
    problem = assert_problem(client.post(f"{API}/expense-approval/start", **request_args), status, code)
    if code == "INVALID_INPUT" and request_args["json"] == {"claimId": 7}:
        assert len(problem["errors"]) == 2  # each violation listed: amount missing, claimId not a string
    assert instance_count(db) == before


def test_unknown_journey_step_and_instance_are_404_or_409(client: httpx.Client) -> None:
    assert_problem(start(client, "no-such-journey", {}), 404, "JOURNEY_UNKNOWN")
    assert_problem(client.get(f"{API}/0000"), 404, "JOURNEY_NOT_FOUND")
    assert_problem(client.get("/api/v2/nothing"), 404, "NOT_FOUND")
    assert_problem(client.delete(f"{API}/0000"), 405, "METHOD_NOT_ALLOWED")
    journey_id = start(client, "expense-approval", CLAIM).json()["journeyId"]
    assert_problem(client.post(f"{API}/{journey_id}/steps/noSuchStep", json={}), 409, "STEP_NOT_ACTIVE")
    assert_problem(client.post(f"{API}/{journey_id}/steps/awaitManagerDecision", json={"decision": "MAYBE"}),
                   400, "INVALID_PAYLOAD")
    assert client.get(f"{API}/{journey_id}").json()["currentState"] == "awaitManagerDecision"


def test_retention_purges_finished_instances_and_resumes_orphans(tmp_path: Path) -> None:
    from jctl.engine.runner import Runner
    from jctl.store import Store

    db = tmp_path / "jctl.db"
    with Store.open(db) as store:  # what a runner that died left behind: a created, never-run instance
        orphan = Runner(store).start(EXAMPLES / "expense-approval" / "expense-approval.journey.yaml", CLAIM,
                                     detach=True)["journeyId"]
    settings = ServeSettings(folders=[EXAMPLES / "expense-approval"], db=db, simulated_clock=True,
                             tick_interval_s=0.05, retention=timedelta(hours=1),
                             purge_every_ticks=1)
    with running_server(settings) as base, httpx.Client(base_url=base, timeout=60) as http:
        for _ in range(600):
            if http.get(f"{API}/{orphan}").json()["currentState"] == "awaitManagerDecision":
                break
            time.sleep(0.05)
        assert http.get(f"{API}/{orphan}").json()["currentState"] == "awaitManagerDecision"
        http.post(f"{API}/{orphan}/steps/cancel")
        assert http.get(f"{API}/{orphan}/result").json()["phase"] == "FAILED"  # kept: inside the retention
        http.post("/_jctl/clock", json={"advance": "PT2H"})
        for _ in range(600):  # the tick loop purges it once it finished longer ago than the retention
            if http.get(f"{API}/{orphan}").status_code == 404:
                break
            time.sleep(0.05)
        assert_problem(http.get(f"{API}/{orphan}"), 404, "JOURNEY_NOT_FOUND")
