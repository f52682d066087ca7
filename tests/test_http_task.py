"""httpCall:v1 against a real local HTTP server: results, errors, operationRef, interpolation, defaults, mocks."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import httpx
import pytest
from werkzeug import Response

from jctl.redact import redact_headers
from jctl.tasks.http import TaskError, build_call, execute, interpolate
from jctl.tasks.mocks import MockError, mock_transport, validate_mocks
from jctl.tasks.openapi_ops import OperationCatalog

NO_MAPPER = lambda body: pytest.fail("no mapper expected")  # noqa: E731


def call(task: dict, context: dict | None = None, spec: dict | None = None, catalog=None, transport=None):
    catalog = catalog or OperationCatalog(None, {})
    built = build_call(task, spec or {}, context or {}, catalog, NO_MAPPER)
    with httpx.Client(transport=transport) as client:
        return built, execute(built, client)


def test_json_response_builds_ok_result(httpserver):
    httpserver.expect_request("/items/42", method="GET").respond_with_json({"id": 42}, headers={"X-Trace": "t1"})
    _, outcome = call({"method": "GET", "url": httpserver.url_for("/items/${context.item.id}")},
                      {"item": {"id": 42}})
    assert outcome.result["status"] == 200 and outcome.result["ok"] is True
    assert outcome.result["body"] == {"id": 42}
    assert outcome.result["headers"]["X-Trace"] == "t1"
    assert "error" not in outcome.result


def test_string_body_and_non_2xx(httpserver):
    httpserver.expect_request("/echo", method="POST", data="hello ada").respond_with_data(
        "nope", status=503, content_type="text/plain")
    _, outcome = call({"method": "POST", "url": httpserver.url_for("/echo"), "body": "hello ${context.name}"},
                      {"name": "ada"})
    assert outcome.result["status"] == 503 and outcome.result["ok"] is False
    assert outcome.result["body"] == "nope"


def test_object_body_is_sent_as_json(httpserver):
    httpserver.expect_request("/orders", method="POST", json={"a": 1},
                              headers={"Content-Type": "application/json"}).respond_with_json({"created": True},
                                                                                               status=201)
    _, outcome = call({"method": "POST", "url": httpserver.url_for("/orders"), "body": {"a": 1}})
    assert outcome.result["status"] == 201 and outcome.result["body"] == {"created": True}


def test_timeout_becomes_timeout_error(httpserver):
    def slow(request):
        time.sleep(0.6)
        return Response("late")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    _, outcome = call({"method": "GET", "url": httpserver.url_for("/slow"), "timeoutMs": 150})
    assert outcome.result["ok"] is False and "status" not in outcome.result
    assert outcome.result["error"]["type"] == "TIMEOUT"


def test_closed_port_is_network_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    _, outcome = call({"method": "GET", "url": f"http://127.0.0.1:{port}/x", "timeoutMs": 1000})
    assert outcome.result["error"]["type"] == "NETWORK"
    assert f"127.0.0.1:{port}" in outcome.result["error"]["message"]


def test_defaults_headers_and_timeout_with_task_override(httpserver):
    httpserver.expect_request("/h", headers={"Accept": "text/plain", "X-Team": "core"}).respond_with_data("ok")
    spec = {"defaults": {"http": {"timeoutMs": 1234, "headers": {"Accept": "application/json", "X-Team": "core"}}}}
    built, outcome = call({"method": "GET", "url": httpserver.url_for("/h"), "headers": {"Accept": "text/plain"}},
                          spec=spec)
    assert built.timeout_ms == 1234
    assert outcome.result["status"] == 200


def test_operation_ref_resolves_server_path_query_and_headers(httpserver, tmp_path: Path):
    (tmp_path / "apis").mkdir()
    (tmp_path / "apis" / "users.openapi.yaml").write_text(
        "openapi: 3.0.3\ninfo: {title: users, version: '1'}\n"
        f"servers: [{{url: '{httpserver.url_for('/v1')}'}}]\n"
        "paths:\n  /users/{userId}:\n    get:\n      operationId: getUser\n"
        "      parameters: [{name: userId, in: path, required: true, schema: {type: string}}]\n"
        "      responses: {'200': {description: ok}}\n")
    spec_path = tmp_path / "flows" / "x.journey.yaml"
    spec_path.parent.mkdir()
    spec_path.write_text("")
    catalog = OperationCatalog(spec_path, {"users": {"openApiRef": "apis/users.openapi.yaml"}})
    httpserver.expect_request("/v1/users/u 1", query_string="verbose=true",
                              headers={"X-Tenant": "t9"}).respond_with_json({"name": "Ada"})
    task = {"operationRef": "users.getUser",
            "params": {"path": {"userId": "${context.id}"}, "query": {"verbose": "true"},
                       "headers": {"X-Tenant": "${context.tenant}"}}}
    built, outcome = call(task, {"id": "u 1", "tenant": "t9"}, catalog=catalog)
    assert built.method == "GET" and built.operation_ref == "users.getUser"
    assert outcome.result["body"] == {"name": "Ada"}


def test_unknown_operation_and_missing_interpolation_are_task_errors(tmp_path: Path):
    with pytest.raises(TaskError, match="not declared under spec.apis"):
        call({"operationRef": "nope.op"})
    with pytest.raises(TaskError, match="missing context field"):
        interpolate("${context.a.b}", {"a": {}})


def test_history_record_redacts_secrets():
    headers = {"Authorization": "Bearer x", "X-Api-Key": "k", "Cookie": "c", "X-Session-Token": "t", "Accept": "a"}
    assert redact_headers(headers) == {"Authorization": "***", "X-Api-Key": "***", "Cookie": "***",
                                       "X-Session-Token": "***", "Accept": "a"}


def test_mocks_answer_in_order_and_repeat_the_last():
    mocks = validate_mocks({"mocks": [{"match": {"method": "GET", "url": "https://jobs.example.com/jobs/*"},
                                       "respond": [{"status": 200, "body": {"state": "RUNNING"}},
                                                   {"error": "TIMEOUT"}, {"status": 200, "body": "done"}]}]})
    counters: dict[str, int] = {}
    transport = mock_transport(mocks, counters)
    results = [call({"method": "GET", "url": "https://jobs.example.com/jobs/1"}, transport=transport)[1].result
               for _ in range(4)]
    assert results[0]["body"] == {"state": "RUNNING"}
    assert results[1]["error"]["type"] == "TIMEOUT"
    assert results[2]["body"] == "done" and results[3]["body"] == "done"
    assert counters == {"0": 4}
    unmatched = call({"method": "POST", "url": "https://other.example.com/"}, transport=transport)[1].result
    assert unmatched["error"]["type"] == "NETWORK" and "POST https://other.example.com/" in unmatched["error"]["message"]


def test_mock_matches_operation_ref(tmp_path: Path):
    (tmp_path / "a.openapi.yaml").write_text(
        "servers: [{url: 'https://api.example.com'}]\npaths:\n  /ping:\n    post: {operationId: ping}\n")
    catalog = OperationCatalog(tmp_path / "j.journey.yaml", {"svc": {"openApiRef": "a.openapi.yaml"}})
    transport = mock_transport(validate_mocks([{"match": {"operationRef": "svc.ping"},
                                                "respond": {"status": 202, "body": {"pong": True}}}]), {})
    _, outcome = call({"operationRef": "svc.ping"}, catalog=catalog, transport=transport)
    assert outcome.result["status"] == 202 and outcome.record["operationRef"] == "svc.ping"
    assert json.dumps(outcome.record)  # history records are JSON


def test_malformed_mocks_are_rejected():
    with pytest.raises(MockError, match="match"):
        validate_mocks({"mocks": [{"respond": {"status": 200}}]})


def test_a_header_set_in_any_case_is_never_sent_twice(httpserver):
    # `accept:` is a shortcut; a task that already sets the header (in any case) keeps its own value only.
    httpserver.expect_request("/report").respond_with_handler(
        lambda request: Response(json.dumps({"accept": request.headers.getlist("Accept"),
                                             "type": request.headers.getlist("Content-Type")}),
                                 content_type="application/json"))
    task = {"method": "POST", "url": httpserver.url_for("/report"), "accept": "text/csv",
            "headers": {"accept": "application/json", "content-type": "application/merge-patch+json"},
            "body": {"a": 1}}
    built, outcome = call(task)
    assert outcome.result["body"] == {"accept": ["application/json"], "type": ["application/merge-patch+json"]}
    assert sorted(built.headers) == ["accept", "content-type"]


def test_mocked_text_body_keeps_its_own_content_type_in_any_case():
    transport = mock_transport(validate_mocks([{"match": {"url": "https://api.example.com/*"},
                                                "respond": {"headers": {"content-type": "application/json"},
                                                            "body": '{"ok": 1}'}}]), {})
    _, outcome = call({"method": "GET", "url": "https://api.example.com/x"}, transport=transport)
    content_types = {k: v for k, v in outcome.result["headers"].items() if k.lower() == "content-type"}
    assert content_types == {"content-type": "application/json"}
    assert outcome.result["body"] == {"ok": 1}


@pytest.mark.parametrize(("rule", "problem"), [
    ({"match": {"method": "GET"}, "respond": {"status": "abc"}}, "status must be an HTTP status code"),
    ({"match": {"method": "GET"}, "respond": {"status": 999}}, "status must be an HTTP status code"),
    ({"match": {"verb": "GET"}, "respond": {"status": 200}}, "unknown key(s) verb"),
    ({"match": {"method": "GET"}, "respond": {"stauts": 200}}, "unknown key(s) stauts"),
    ({"match": {"method": "GET"}, "respond": {"headers": ["Accept"]}}, "headers must be a mapping"),
    ({"match": {"method": "GET"}, "respond": {"error": "BOOM"}}, "error must be TIMEOUT or NETWORK"),
    ({"match": {"method": "GET"}}, "needs `match:`"),
])
def test_malformed_mock_rules_are_refused_with_their_place(rule, problem):
    with pytest.raises(MockError) as error:
        validate_mocks({"mocks": [{"match": {"url": "*"}, "respond": {"status": 204}}, rule]}, "m.yaml")
    assert "m.yaml: mocks[1]" in error.value.message and problem in error.value.message


def test_a_json_body_with_nan_or_infinity_is_kept_as_text(httpserver):
    """Python's json takes NaN and 1e999; stored as numbers they would make every `--format json` invalid."""
    for path, text in (("/nan", '{"score": NaN}'), ("/inf", '{"score": 1e999}')):
        httpserver.expect_request(path).respond_with_data(text, content_type="application/json")
        _, outcome = call({"method": "GET", "url": httpserver.url_for(path)})
        assert outcome.result["ok"] is True and outcome.result["body"] == text


def test_task_headers_replace_default_headers_in_any_case(httpserver):
    # dsl.md 2.3: task-level values win over spec.defaults.http.headers; header names are case-insensitive, and
    # the task's `accept:` is task-level too, so it beats a default Accept.
    httpserver.expect_request("/report").respond_with_handler(
        lambda request: Response(json.dumps({"accept": request.headers.getlist("Accept"),
                                             "team": request.headers.getlist("X-Team")}),
                                 content_type="application/json"))
    spec = {"defaults": {"http": {"headers": {"Accept": "application/json", "X-Team": "core"}}}}
    _, by_header = call({"method": "GET", "url": httpserver.url_for("/report"), "headers": {"x-team": "edge"},
                         "accept": "text/csv"}, spec=spec)
    assert by_header.result["body"] == {"accept": ["text/csv"], "team": ["edge"]}


def test_server_variables_take_their_default_values():
    from jctl.tasks.openapi_ops import OperationError, server_url

    server = {"url": "https://{region}.reports.test/{version}",
              "variables": {"region": {"default": "eu"}, "version": {"default": "v2", "enum": ["v1", "v2"]}}}
    assert server_url(server) == "https://eu.reports.test/v2"
    assert server_url({"url": "https://plain.test/api"}) == "https://plain.test/api"
    with pytest.raises(OperationError, match="without a default"):
        server_url({"url": "https://{tenant}.test"})


def test_credentials_in_the_url_are_redacted_in_the_record_and_error_messages(httpserver):
    httpserver.expect_request("/login").respond_with_json({"ok": True})
    base = httpserver.url_for("/login").replace("http://", "http://ann:pw-in-url@")
    built, outcome = call({"method": "GET", "url": base + "?api_key=key-in-query&page=2&access_token=tok-q"})
    assert "pw-in-url" not in json.dumps(outcome.record) and "key-in-query" not in json.dumps(outcome.record)
    assert "tok-q" not in json.dumps(outcome.record) and "page=2" in outcome.record["url"]
    assert "pw-in-url" in built.url  # only what is recorded is redacted: the request itself keeps them
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    _, failed = call({"method": "GET", "url": f"http://bob:pw-2@127.0.0.1:{port}/x?token=tok-2", "timeoutMs": 1000})
    assert failed.result["error"]["type"] == "NETWORK"
    everything = json.dumps([failed.result, failed.record])
    assert "pw-2" not in everything and "tok-2" not in everything and f"127.0.0.1:{port}" in everything


def test_broader_sensitive_header_names_are_redacted():
    headers = {"X-Password": "p", "X-Client-Credential": "c", "Proxy-Authorization": "a", "X-Refresh-Token": "r",
               "X-Signature": "s", "Accept": "a", "X-Request-Id": "id"}
    assert redact_headers(headers) == {"X-Password": "***", "X-Client-Credential": "***",
                                       "Proxy-Authorization": "***", "X-Refresh-Token": "***",
                                       "X-Signature": "***", "Accept": "a", "X-Request-Id": "id"}


def test_tokens_in_response_bodies_stay_out_of_the_record_and_cookies_out_of_the_result(httpserver):
    body = {"access_token": "at-1", "refresh_token": "rt-1", "expires_in": 60, "user": {"password": "pw", "id": 7}}
    httpserver.expect_request("/token").respond_with_json(
        body, headers={"Set-Cookie": "sid=cookie-1", "X-Auth-Token": "xat-1", "X-Trace": "t"})
    _, outcome = call({"method": "POST", "url": httpserver.url_for("/token")})
    recorded = json.dumps(outcome.record)
    assert all(secret not in recorded for secret in ("at-1", "rt-1", "pw", "cookie-1", "xat-1"))
    assert outcome.record["result"]["body"]["expires_in"] == 60 and outcome.record["result"]["body"]["user"]["id"] == 7
    assert outcome.result["body"] == body  # the journey still reads the token it asked for
    assert outcome.result["headers"]["Set-Cookie"] == "***" and outcome.result["headers"]["X-Auth-Token"] == "***"
    assert outcome.result["headers"]["X-Trace"] == "t"
