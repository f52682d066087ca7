"""Bounded instance data through the real CLI: start input and step payload (2 MiB), HTTP response body kept in a
result (2 MiB), context after a transition (4 MiB) and history events, at, just under and just over the defaults."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import CASES
from test_cli_runner import APPROVAL, Store, as_json, events_of

from jctl.limits import MIB, Limits

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


def test_step_payload_at_and_over_the_default_limit(own: Store, tmp_path: Path):
    journey_id = own.run(APPROVAL, '{"orderId": "o-p"}')["journeyId"]
    refused = own("signal", journey_id, "-p", f"@{input_file(tmp_path, INPUT_LIMIT + 1, 'p.json', 'by')}", code=2)
    assert "payload" in refused.stderr and "input limit" in refused.stderr
    at = input_file(tmp_path, INPUT_LIMIT, "at.json", key="by")
    document = json.loads(at.read_text())
    document["by"] = document["by"][:-len('"approved":false,')]
    at.write_text(json.dumps({"approved": False, **document}, separators=(",", ":")))
    assert at.stat().st_size == INPUT_LIMIT
    accepted = own("signal", journey_id, "-p", f"@{at}", "-f", "json")
    assert "quarter of the input limit" in accepted.stderr
    assert len(events_of(own.history(journey_id), "signal.received")) == 1  # accepted at the edge
    warned = [e["data"] for e in events_of(own.history(journey_id), "limit.warning") if e["data"]["limit"] == "input"]
    assert len(warned) == 1 and warned[0]["size"] >= INPUT_LIMIT  # committed with signal.received
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


def test_http_body_at_the_default_limit_is_kept_and_just_over_is_a_task_error(own: Store, document_service):
    spec = grow_spec(own, document_service(Limits().http_body))
    kept = own.run(spec, '{"text": "a"}')
    assert kept["phase"] == "SUCCEEDED"
    spec = grow_spec(own, document_service(Limits().http_body + 1))
    refused = own.run(spec, '{"text": "a"}', "-f", "json", code=0)
    (call,) = [e for e in own.history(refused["journeyId"]) if e["state"] == "fetch" and "http" in e["data"]]
    assert call["data"]["http"]["result"]["error"]["type"] == "RESPONSE_TOO_LARGE"
    assert "http_body limit" in call["data"]["http"]["result"]["error"]["message"]


def test_context_just_under_and_over_the_default_limit(own: Store, document_service):
    spec = grow_spec(own, document_service(10))
    text = "t" * (MIB + 300 * 1024)  # context: text + doubled text = 3.9 MiB
    start = own.cwd / "under.json"
    start.write_text(json.dumps({"text": text}))
    ok = as_json(own("run", str(spec), "-i", f"@{start}", "-f", "json", code=0))
    assert ok["phase"] == "SUCCEEDED"
    assert events_of(own.history(ok["journeyId"]), "limit.warning")
    start.write_text(json.dumps({"text": "t" * (MIB + 400 * 1024)}))  # 4.2 MiB after `double`
    failed = own("run", str(spec), "-i", f"@{start}", "-f", "json", code=1)
    outcome = json.loads(failed.stdout)
    assert outcome["phase"] == "FAILED" and outcome["error"]["code"] == "CONTEXT_LIMIT_EXCEEDED"
    history = own.history(outcome["journeyId"])
    (crossed,) = events_of(history, "limit.exceeded")
    assert crossed["data"]["limit"] == "context" and crossed["data"]["size"] > 4 * MIB
    assert own.db.stat().st_size < 16 * MIB  # the oversized context was never stored


def test_history_events_limit_fails_the_instance(own: Store):
    journey_id = own.run(APPROVAL, '{"orderId": "o-h"}')["journeyId"]
    for _ in range(3):
        own("signal", journey_id, "-p", '{"approved": false}', code=0, env={"JCTL_LIMIT_HISTORY_EVENTS": "40"})
    count = len(own.history(journey_id))
    result = own("signal", journey_id, "-p", '{"approved": false}', "-f", "json", code=1,
                 env={"JCTL_LIMIT_HISTORY_EVENTS": str(count + 2)})
    assert json.loads(result.stdout)["error"]["code"] == "HISTORY_LIMIT_EXCEEDED"
    assert events_of(own.history(journey_id), "limit.exceeded")
