"""Start-time metadata bindings from the request (dsl.md 2.8.4): `fromHeaders` and `fromBaggage` (the W3C baggage
header) give tags and attributes, from `jctl run --header` and from a start request to `jctl serve`."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from conftest import run_jctl, write_journey
from serving import running_server

from jctl.serve.engine import ServeSettings

BINDINGS = {"bindings": {
    "tags": {"fromHeaders": [{"header": "X-Journey-Tag"}], "fromBaggage": [{"key": "journey_tag"}]},
    "attributes": {"fromPayload": {"orderId": {"path": "order.id"}},
                   "fromHeaders": {"tenantId": {"header": "X-Tenant-Id"}},
                   "fromBaggage": {"correlationId": {"key": "correlation_id"}, "experiment": {"key": "exp"}}}}}
WAIT = {"ask": {"type": "wait", "wait": {"channel": "manual", "input": {"schema": {"type": "object"}}},
                "next": "done"}, "done": {"type": "succeed"}}
BAGGAGE = "correlation_id=c%2D9;ttl=5, exp=b ,journey_tag=vip,broken"


def bound_journey(tmp_path: Path) -> Path:
    return write_journey(tmp_path, WAIT, "ask", name="bound", metadata=BINDINGS)


def test_run_binds_tags_and_attributes_from_headers_and_baggage(tmp_path: Path) -> None:
    env = {"JCTL_DB": str(tmp_path / "jctl.db")}
    started = run_jctl("run", str(bound_journey(tmp_path)), "--input", '{"order": {"id": "o-1"}}', "-f", "json",
                       "--header", "x-tenant-id=t-1", "--header", "X-Journey-Tag=priority",
                       "--header", f"baggage={BAGGAGE}", cwd=tmp_path, env=env)
    assert started.returncode == 0, started.stderr
    status = json.loads(started.stdout)
    assert status["tags"] == ["priority", "vip"]
    assert status["attributes"] == {"orderId": "o-1", "tenantId": "t-1", "correlationId": "c-9", "experiment": "b"}
    listed = run_jctl("list", "--attribute", "tenantId=t-1", "-f", "json", cwd=tmp_path, env=env)
    assert [row["journeyId"] for row in json.loads(listed.stdout)] == [status["journeyId"]]


def test_a_start_without_those_headers_binds_only_the_payload(tmp_path: Path) -> None:
    started = run_jctl("run", str(bound_journey(tmp_path)), "--input", '{"order": {"id": "o-2"}}', "-f", "json",
                       cwd=tmp_path, env={"JCTL_DB": str(tmp_path / "jctl.db")})
    status = json.loads(started.stdout)
    assert status["tags"] == [] and status["attributes"] == {"orderId": "o-2"}


def test_serve_binds_the_start_requests_headers(tmp_path: Path) -> None:
    folder = tmp_path / "flows"
    folder.mkdir()
    bound_journey(folder)
    settings = ServeSettings(folders=[folder], db=tmp_path / "jctl.db", simulated_clock=True, tick_interval_s=0.05)
    with running_server(settings) as base, httpx.Client(base_url=base, timeout=60) as http:
        answer = http.post("/api/v1/journeys/bound/start", json={"order": {"id": "o-3"}},
                           headers={"X-Tenant-Id": "t-2", "baggage": "exp=a"})
        assert answer.status_code in (200, 202), answer.text
        status = http.get(f"/api/v1/journeys/{answer.json()['journeyId']}").json()
    assert status["attributes"] == {"orderId": "o-3", "tenantId": "t-2", "experiment": "a"}
