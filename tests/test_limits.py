"""Bounded instance data through the real CLI: start input and step payload (2 MiB), HTTP response body kept in a
result (2 MiB), context after a transition (4 MiB) and history events, at, just under and just over the defaults."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import CASES
from test_cli_runner import APPROVAL, Store, as_json, events_of, start_approval

from jctl.engine.runner import Runner
from jctl.limits import MIB, WARN_FRACTION, Limits, json_size
from jctl.store import rows
from jctl.store.db import Store as Db
from jctl.store.models import NewEvent

INPUT_LIMIT = 2 * MIB
WRAPPER = len('{"orderId":""}')


@pytest.fixture
def own(tmp_path: Path) -> Store:
    return Store(tmp_path)


def input_file(tmp_path: Path, size: int, name: str = "input.json", key: str = "orderId") -> Path:
    """A compact JSON object of exactly `size` bytes."""
    path = tmp_path / name
    path.write_text(json.dumps({key: "x" * (size - len(json.dumps({key: ""}, separators=(",", ":"))))},
                               separators=(",", ":")))
    assert path.stat().st_size == size
    return path


def test_start_input_at_just_under_and_just_over_the_default_limit(own: Store, tmp_path: Path):
    for size in (INPUT_LIMIT - 1, INPUT_LIMIT):
        result = own("run", str(APPROVAL), "-i", f"@{input_file(tmp_path, size)}", "-f", "json", code=0)
        assert "warning:" in result.stderr and "quarter of the input limit" in result.stderr
        history = own.history(json.loads(result.stdout)["journeyId"])
        assert events_of(history, "limit.warning")[0]["data"]["size"] == size
    over = own("run", str(APPROVAL), "-i", f"@{input_file(tmp_path, INPUT_LIMIT + 1)}", code=2)
    assert "over the input limit of 2.0 MiB" in over.stderr and "JCTL_LIMIT_INPUT" in over.stderr
    from_stdin = own("run", str(APPROVAL), "-i", "-", stdin=input_file(tmp_path, INPUT_LIMIT + 1).read_text(), code=2)
    assert "input limit" in from_stdin.stderr
    assert len(own.ids()) == 2  # nothing was created by the refused starts


def test_a_small_input_gets_no_warning_and_the_limit_can_be_raised_or_lowered(own: Store, tmp_path: Path):
    quiet = own("run", str(APPROVAL), "-i", '{"orderId": "o-1"}', code=0)
    assert "warning" not in quiet.stderr
    big = input_file(tmp_path, INPUT_LIMIT + 1)
    own("run", str(APPROVAL), "-i", f"@{big}", code=0, env={"JCTL_LIMIT_INPUT": "3MB"})
    (own.cwd / ".jctl.toml").write_text('[limits]\ninput = "1KB"\n')
    assert "1.0 KiB" in own("run", str(APPROVAL), "-i", f"@{input_file(tmp_path, 1025)}", code=2).stderr
    (own.cwd / ".jctl.toml").write_text('[limits]\ninptu = 5\n')
    assert "unknown limit `inptu`" in own("run", str(APPROVAL), "-i", '{"orderId": "o"}', code=2).stderr


def payload_file(tmp_path: Path, size: int) -> Path:
    """A compact approval payload `{"approved":false,"by":"xx…"}` of exactly `size` bytes."""
    path = input_file(tmp_path, size - len('"approved":false,'), f"payload-{size}.json", key="by")
    path.write_text(json.dumps({"approved": False, **json.loads(path.read_text())}, separators=(",", ":")))
    assert path.stat().st_size == size
    return path


def test_step_payload_at_just_under_and_just_over_the_default_limit(own: Store, tmp_path: Path):
    journey_id = start_approval(own, "o-p")
    before = own.history(journey_id)
    refused = own("signal", journey_id, "-p", f"@{payload_file(tmp_path, INPUT_LIMIT + 1)}", code=2)
    assert "payload is more than 2.0 MiB (2097152 bytes), over the input limit of 2.0 MiB" in refused.stderr
    assert "JCTL_LIMIT_INPUT" in refused.stderr and "[tool.jctl.limits]" in refused.stderr
    assert own.history(journey_id) == before  # refused before anything was stored
    for size in (INPUT_LIMIT - 1, INPUT_LIMIT):
        journey_id = start_approval(own, f"o-{size}")
        accepted = own("signal", journey_id, "-p", f"@{payload_file(tmp_path, size)}", "-f", "json")
        assert "warning: the payload" in accepted.stderr and "quarter of the input limit" in accepted.stderr
        history = own.history(journey_id)
        assert len(events_of(history, "signal.received")) == 1  # accepted at the edge
        warned = [e["data"] for e in events_of(history, "limit.warning") if e["data"]["limit"] == "input"]
        assert warned == [{"limit": "input", "size": size, "max": INPUT_LIMIT}]  # committed with signal.received
        # the journey copies the payload into `summary`: two copies take the context over its 4 MiB
        assert accepted.returncode == 1 and json.loads(accepted.stdout)["error"]["code"] == "CONTEXT_LIMIT_EXCEEDED"


@pytest.fixture
def document_service(httpserver):
    def serve(size: int) -> str:
        httpserver.clear()
        httpserver.expect_request("/document").respond_with_data("y" * size, content_type="text/plain")
        return httpserver.url_for("").rstrip("/")
    return serve


def grow_spec(own: Store, base: str) -> Path:
    spec = own.cwd / "grow.journey.yaml"
    spec.write_text((CASES / "runner" / "grow.journey.yaml.tmpl").read_text().replace("__BASE__", base))
    return spec


def test_http_body_at_just_under_and_just_over_the_default_limit(own: Store, document_service):
    for size in (Limits().http_body - 1, Limits().http_body):
        kept = own.run(grow_spec(own, document_service(size)), '{"text": "a"}')
        assert kept["phase"] == "SUCCEEDED"
        (call,) = [e for e in own.history(kept["journeyId"]) if e["state"] == "fetch" and "http" in e["data"]]
        assert call["data"]["http"]["result"]["ok"] is True
    spec = grow_spec(own, document_service(Limits().http_body + 1))
    refused = own.run(spec, '{"text": "a"}', "-f", "json", code=0)
    (call,) = [e for e in own.history(refused["journeyId"]) if e["state"] == "fetch" and "http" in e["data"]]
    assert call["data"]["http"]["result"]["ok"] is False
    assert call["data"]["http"]["result"]["error"]["type"] == "RESPONSE_TOO_LARGE"
    message = call["data"]["http"]["result"]["error"]["message"]
    assert "2.0 MiB (2097153 bytes), over the http_body limit of 2.0 MiB" in message
    assert "JCTL_LIMIT_HTTP_BODY" in message


INFLATE = CASES / "runner" / "inflate.journey.yaml"
CONTEXT_LIMIT = 4 * MIB


def inflate_input(tmp_path: Path, context_size: int) -> Path:
    """A start input for inflate.journey.yaml whose context is exactly `context_size` JSON bytes after its one
    transform (text + pad + eight times text), while the input alone stays under a quarter of the limit."""
    text = (context_size - len('{"text":"","pad":"","grown":""}')) // 9
    pad = context_size - len('{"text":"","pad":"","grown":""}') - 9 * text
    path = tmp_path / f"inflate-{context_size}.json"
    path.write_text(json.dumps({"text": "t" * text, "pad": "p" * pad}))
    return path


def context_of(own: Store, journey_id: str) -> dict[str, Any]:
    with Db.open(own.db) as store:
        return store.get_instance(journey_id).context


def test_context_at_just_under_and_just_over_the_default_limit(own: Store, tmp_path: Path):
    for size in (CONTEXT_LIMIT - 1, CONTEXT_LIMIT):
        result = own("run", str(INFLATE), "-i", f"@{inflate_input(tmp_path, size)}", "-f", "json", code=0)
        assert json.loads(result.stdout)["phase"] == "SUCCEEDED"
        journey_id = json.loads(result.stdout)["journeyId"]
        assert json_size(context_of(own, journey_id)) == size  # kept, whole
        assert "warning: the context" in result.stderr and "quarter of the context limit" in result.stderr
        (warned,) = events_of(own.history(journey_id), "limit.warning")  # crossed a quarter in that transform
        assert warned["data"] == {"limit": "context", "size": size, "max": CONTEXT_LIMIT}
    (tmp_path / "alone").mkdir()
    alone = Store(tmp_path / "alone")  # a store of its own, to weigh what the failed instance left in it
    failed = alone("run", str(INFLATE), "-i", f"@{inflate_input(tmp_path, CONTEXT_LIMIT + 1)}", "-f", "json", code=1)
    outcome = json.loads(failed.stdout)
    assert outcome["phase"] == "FAILED" and outcome["error"]["code"] == "CONTEXT_LIMIT_EXCEEDED"
    assert "4.0 MiB (4194305 bytes), over the context limit" in outcome["error"]["reason"]
    assert "JCTL_LIMIT_CONTEXT" in outcome["error"]["reason"]
    history = alone.history(outcome["journeyId"])
    (crossed,) = events_of(history, "limit.exceeded")
    assert crossed["state"] == "grow" and crossed["data"] == {"limit": "context", "size": CONTEXT_LIMIT + 1,
                                                              "max": CONTEXT_LIMIT}
    assert json_size(context_of(alone, outcome["journeyId"])) < MIB  # the context before the crossing is kept
    stored = sum(path.stat().st_size for path in alone.cwd.glob("jctl.db*"))
    assert stored < 3 * MIB  # its input twice (start event, context), never the 4 MiB context
    human = own("run", str(INFLATE), "-i", f"@{inflate_input(tmp_path, CONTEXT_LIMIT + 1)}", code=1)
    assert "CONTEXT_LIMIT_EXCEEDED" in human.stdout + human.stderr


def test_history_events_limit_fails_the_instance(own: Store):
    journey_id = own.run(APPROVAL, '{"orderId": "o-h"}')["journeyId"]
    for _ in range(3):
        own("signal", journey_id, "-p", '{"approved": false}', code=0, env={"JCTL_LIMIT_HISTORY_EVENTS": "40"})
    count = len(own.history(journey_id))
    result = own("signal", journey_id, "-p", '{"approved": false}', "-f", "json", code=1,
                 env={"JCTL_LIMIT_HISTORY_EVENTS": str(count + 2)})
    assert json.loads(result.stdout)["error"]["code"] == "HISTORY_LIMIT_EXCEEDED"
    assert events_of(own.history(journey_id), "limit.exceeded")


HISTORY_LIMIT = Limits().history_events
REFUSAL = '{"approved": false}'


def rounds_of_refusals(own: Store, totals: list[int]) -> tuple[list[str], int]:
    """Approval instances whose histories hold `total - k` events, k being what one refusal adds: each is started
    and refused once by the runner, and its history is then filled with repeats of that real round (written as
    the store writes events, in one transaction: tens of thousands of real signals would take minutes)."""
    runner = Runner(Db.open(own.db), data_limits=Limits())
    ids, per_round = [], 0
    for total in totals:
        journey_id = runner.start(APPROVAL, {"orderId": f"o-{total}"})["journeyId"]
        started = runner.store.event_count(journey_id)
        runner.signal(journey_id, json.loads(REFUSAL))
        history = runner.store.history(journey_id)
        per_round = len(history) - started
        one_round = [NewEvent(e.type, e.state, e.data) for e in history[started:]]
        filler = [one_round[i % per_round] for i in range(total - per_round - len(history))]
        runner.store._write(lambda conn: rows.append_events(conn, journey_id, filler, rows.clock_ms(conn)))
        assert runner.store.event_count(journey_id) == total - per_round
        ids.append(journey_id)
    runner.store.close()
    return ids, per_round


def test_history_events_at_just_under_and_just_over_the_default_limit(own: Store):
    (under, at, over), per_round = rounds_of_refusals(own, [HISTORY_LIMIT - 1, HISTORY_LIMIT, HISTORY_LIMIT + 1])
    for journey_id, total in ((under, HISTORY_LIMIT - 1), (at, HISTORY_LIMIT)):
        accepted = as_json(own("signal", journey_id, "-p", REFUSAL, "-f", "json", code=0))
        assert accepted["phase"] == "RUNNING" and accepted["currentState"] == "askApproval"
        with Db.open(own.db) as store:
            assert store.event_count(journey_id) == total
    failed = own("signal", over, "-p", REFUSAL, "-f", "json", code=1)
    outcome = json.loads(failed.stdout)
    assert outcome["phase"] == "FAILED" and outcome["error"]["code"] == "HISTORY_LIMIT_EXCEEDED"
    assert f"{HISTORY_LIMIT + 1} events, over the history-events limit of {HISTORY_LIMIT}" in outcome["error"]["reason"]
    assert "JCTL_LIMIT_HISTORY_EVENTS" in outcome["error"]["reason"]
    with Db.open(own.db) as store:
        tail = store.history(over)[HISTORY_LIMIT + 1 - per_round:]
    crossed = [e for e in tail if e.type == "limit.exceeded"]
    assert [e.data for e in crossed] == [{"limit": "history_events", "size": HISTORY_LIMIT + 1,
                                          "max": HISTORY_LIMIT}]
    # the round's transitions within the limit were committed; the crossing one is replaced by its failure
    assert [e.type for e in tail[-2:]] == ["limit.exceeded", "journey.failed"]
    assert tail[-3].seq == HISTORY_LIMIT and len(tail) == per_round + 1
    again = own("signal", over, "-p", REFUSAL, code=None)
    assert again.returncode != 0  # a failed instance takes no more payloads


def test_history_events_warn_past_a_quarter_of_the_default_limit(own: Store):
    quarter = HISTORY_LIMIT // WARN_FRACTION
    (journey_id,), _ = rounds_of_refusals(own, [quarter])
    quiet = own("signal", journey_id, "-p", REFUSAL, code=0)  # exactly a quarter: not over it
    assert "warning" not in quiet.stderr
    crossing = own("signal", journey_id, "-p", REFUSAL, code=0)
    # the round's first transition (its signal.received) crosses the quarter
    assert f"holds {quarter + 1} events, over a quarter of the history-events limit (50000)" in crossing.stderr
    with Db.open(own.db) as store:
        warned = [e.data for e in store.history(journey_id)[quarter:] if e.type == "limit.warning"]
    assert warned == [{"limit": "history_events", "size": quarter + 1, "max": HISTORY_LIMIT}]
    later = own("signal", journey_id, "-p", REFUSAL, code=0)
    assert "warning" not in later.stderr  # warned once, when the history crossed the quarter


def test_serve_applies_the_input_limit_to_start_and_step_bodies(tmp_path: Path):
    import httpx
    from serving import running_server

    from jctl.serve.engine import ServeSettings

    folder = tmp_path / "flows"
    folder.mkdir()
    (folder / APPROVAL.name).write_text(APPROVAL.read_text())
    at = json.loads(input_file(tmp_path, INPUT_LIMIT).read_text())
    over = json.loads(input_file(tmp_path, INPUT_LIMIT + 1, "over.json").read_text())
    settings = ServeSettings(folders=[folder], db=tmp_path / "jctl.db", simulated_clock=True)
    with running_server(settings) as base, httpx.Client(base_url=base, timeout=120) as http:
        accepted = http.post("/api/v1/journeys/approval/start", json=at)  # 2 MiB: more than a 1 MiB body cap
        assert accepted.status_code in (200, 201, 202), accepted.text
        refused = http.post("/api/v1/journeys/approval/start", json=over)
        assert refused.status_code == 400 and "over the input limit of 2.0 MiB" in refused.json()["detail"]
        step = f"/api/v1/journeys/{accepted.json()['journeyId']}/steps/askApproval"
        payload = http.post(step, json={"approved": False, "by": over["orderId"]})
        assert payload.status_code == 400 and "JCTL_LIMIT_INPUT" in payload.json()["detail"]
        huge = http.post("/api/v1/journeys/approval/start", content=b" " * (2 * INPUT_LIMIT + 1) + b"{}",
                         headers={"content-type": "application/json"})
        assert huge.status_code == 413 and "JCTL_LIMIT_INPUT" in huge.json()["detail"]
        listed = http.get("/api/v1/journeys").json()["items"]
    assert [item["journeyId"] for item in listed] == [accepted.json()["journeyId"]]  # refusals created nothing
