"""Outbound auth (dsl.md 19) and secretRef (dsl.md 7) end to end against a real local HTTP server: bearerStatic,
OAuth2 client credentials (post and basic, token caching, one refresh and one retry on 401), and secret values
never in output, history, status, errors or the store file."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from conftest import run_jctl, write_journey
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

TOKEN_SECRET = "s3cr3t-static-token"
CLIENT_SECRET = "client-secret-value-42"


def jctl(tmp_path: Path, *args: str, code: int = 0, env: dict[str, str] | None = None) -> Any:
    result = run_jctl(*args, cwd=tmp_path, env={"JCTL_DB": str(tmp_path / "jctl.db"), **(env or {})})
    assert "Traceback" not in result.stdout + result.stderr
    assert result.returncode == code, result.stdout + result.stderr
    return result


def secrets_file(tmp_path: Path) -> Path:
    path = tmp_path / "secrets.yaml"
    path.write_text(f"secret://tokens/backend: {TOKEN_SECRET}\nsecret://oauth/orders: {CLIENT_SECRET}\n")
    return path


def journey(tmp_path: Path, server: HTTPServer, policy: str, calls: int = 1, method: str = "clientSecretPost") -> Path:
    policies = {"httpClientAuth": {"definitions": {
        "static": {"kind": "bearerStatic", "tokenRef": "secret://tokens/backend"},
        "oauth": {"kind": "oauth2ClientCredentials", "tokenEndpoint": server.url_for("/token"),
                  "auth": {"method": method, "clientId": "orders",
                           "clientSecretRef": "secret://oauth/orders"},
                  "form": {"grant_type": "client_credentials", "scope": "orders.read"}},
        "missing": {"kind": "bearerStatic", "tokenRef": "secret://tokens/absent"}}}}
    states: dict[str, Any] = {}
    for index in range(calls):
        states[f"call{index}"] = {"type": "task", "task": {
            "kind": "httpCall:v1", "method": "GET", "url": server.url_for("/orders"),
            "auth": {"policyRef": policy}, "resultVar": f"r{index}"},
            "next": f"call{index + 1}" if index + 1 < calls else "done"}
    states["done"] = {"type": "succeed"}
    return write_journey(tmp_path, states, "call0", policies=policies)


def assert_no_secret_anywhere(tmp_path: Path, instance_id: str, *texts: str) -> None:
    shown = [*texts, jctl(tmp_path, "status", instance_id, "--format", "json").stdout,
             jctl(tmp_path, "history", instance_id, "--format", "json").stdout,
             jctl(tmp_path, "history", instance_id).stdout, jctl(tmp_path, "list", "--format", "json").stdout]
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("jctl.db*"))
    for secret in (TOKEN_SECRET, CLIENT_SECRET, "access-1", "access-2"):
        assert all(secret not in text for text in shown), secret
        assert secret.encode() not in stored, secret


def test_bearer_static_sends_the_secret_and_shows_it_nowhere(tmp_path: Path, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/orders", headers={"Authorization": f"Bearer {TOKEN_SECRET}"}).respond_with_json([1])
    spec = journey(tmp_path, httpserver, "static")
    run = jctl(tmp_path, "run", str(spec), "--secrets", str(secrets_file(tmp_path)), "--format", "json")
    envelope = json.loads(run.stdout)
    assert envelope["phase"] == "SUCCEEDED" and envelope["output"]["r0"]["body"] == [1]
    assert_no_secret_anywhere(tmp_path, envelope["journeyId"], run.stdout, run.stderr)


def test_secrets_come_from_jctl_secrets_too_and_a_missing_ref_names_no_value(tmp_path: Path,
                                                                             httpserver: HTTPServer) -> None:
    httpserver.expect_request("/orders").respond_with_json([])
    env = {"JCTL_SECRETS": str(secrets_file(tmp_path))}
    ok = json.loads(jctl(tmp_path, "run", str(journey(tmp_path, httpserver, "static")), "--format", "json",
                         env=env).stdout)
    assert ok["phase"] == "SUCCEEDED"
    failed = jctl(tmp_path, "run", str(journey(tmp_path, httpserver, "missing")), "--format", "json", env=env,
                  code=1)
    error = json.loads(failed.stdout)["error"]
    assert error["code"] == "SECRET_NOT_FOUND" and "secret://tokens/absent" in error["reason"]
    assert_no_secret_anywhere(tmp_path, json.loads(failed.stdout)["journeyId"], failed.stdout, failed.stderr)


def test_a_bad_secrets_file_is_a_usage_error_without_its_content(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"- {TOKEN_SECRET}\n")
    spec = write_journey(tmp_path, {"done": {"type": "succeed"}}, "done")
    result = jctl(tmp_path, "run", str(spec), "--secrets", str(bad), code=2)
    assert "mapping of secretRef" in result.stderr and TOKEN_SECRET not in result.stdout + result.stderr


@pytest.mark.parametrize("method", ["clientSecretPost", "clientSecretBasic"])
def test_oauth2_token_is_cached_across_calls(tmp_path: Path, httpserver: HTTPServer, method: str) -> None:
    requests: list[dict[str, Any]] = []

    def token(request: Request) -> Response:
        requests.append({"form": parse_qs(request.get_data(as_text=True)),
                         "authorization": request.headers.get("Authorization")})
        return Response(json.dumps({"access_token": "access-1", "expires_in": 3600}),
                        content_type="application/json")

    httpserver.expect_request("/token", method="POST").respond_with_handler(token)
    httpserver.expect_request("/orders", headers={"Authorization": "Bearer access-1"}).respond_with_json({"n": 1})
    spec = journey(tmp_path, httpserver, "oauth", calls=3, method=method)
    run = jctl(tmp_path, "run", str(spec), "--secrets", str(secrets_file(tmp_path)), "--format", "json")
    envelope = json.loads(run.stdout)
    assert envelope["phase"] == "SUCCEEDED" and envelope["output"]["r2"]["status"] == 200
    assert len(requests) == 1  # one token for three calls
    form = requests[0]["form"]
    assert form["grant_type"] == ["client_credentials"] and form["scope"] == ["orders.read"]
    if method == "clientSecretPost":
        assert form["client_secret"] == [CLIENT_SECRET] and requests[0]["authorization"] is None
    else:
        assert "client_secret" not in form
        assert requests[0]["authorization"] == "Basic " + base64.b64encode(
            f"orders:{CLIENT_SECRET}".encode()).decode()
    assert_no_secret_anywhere(tmp_path, envelope["journeyId"], run.stdout, run.stderr)


def test_oauth2_refreshes_once_after_a_401_and_retries_once(tmp_path: Path, httpserver: HTTPServer) -> None:
    issued: list[str] = []

    def token(request: Request) -> Response:
        issued.append(f"access-{len(issued) + 1}")
        return Response(json.dumps({"access_token": issued[-1], "expires_in": 3600}), content_type="application/json")

    def orders(request: Request) -> Response:
        ok = request.headers.get("Authorization") == "Bearer access-2"
        return Response(json.dumps({"ok": ok}), status=200 if ok else 401, content_type="application/json")

    httpserver.expect_request("/token", method="POST").respond_with_handler(token)
    httpserver.expect_request("/orders").respond_with_handler(orders)
    spec = journey(tmp_path, httpserver, "oauth")
    run = jctl(tmp_path, "run", str(spec), "--secrets", str(secrets_file(tmp_path)), "--format", "json")
    envelope = json.loads(run.stdout)
    assert envelope["output"]["r0"]["status"] == 200 and issued == ["access-1", "access-2"]
    events = json.loads(jctl(tmp_path, "history", envelope["journeyId"], "--format", "json").stdout)
    [auth] = [e["data"]["http"]["auth"] for e in events if "http" in e.get("data", {})]
    assert auth["refreshedAfter401"] is True
    assert_no_secret_anywhere(tmp_path, envelope["journeyId"], run.stdout, run.stderr)


def test_oauth2_a_second_401_reaches_the_journey_without_more_retries(tmp_path: Path,
                                                                      httpserver: HTTPServer) -> None:
    issued: list[str] = []

    def token(request: Request) -> Response:
        issued.append("t")
        return Response(json.dumps({"access_token": f"access-{len(issued)}"}), content_type="application/json")

    httpserver.expect_request("/token", method="POST").respond_with_handler(token)
    httpserver.expect_request("/orders").respond_with_json({"denied": True}, status=401)
    spec = journey(tmp_path, httpserver, "oauth")
    envelope = json.loads(jctl(tmp_path, "run", str(spec), "--secrets", str(secrets_file(tmp_path)),
                               "--format", "json").stdout)
    assert envelope["output"]["r0"]["status"] == 401 and len(issued) == 2
    assert len([r for r, _ in httpserver.log if r.path == "/orders"]) == 2


def test_a_failing_token_endpoint_fails_the_task(tmp_path: Path, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/token", method="POST").respond_with_json({"error": "invalid_client"}, status=401)
    spec = journey(tmp_path, httpserver, "oauth")
    failed = jctl(tmp_path, "run", str(spec), "--secrets", str(secrets_file(tmp_path)), "--format", "json", code=1)
    error = json.loads(failed.stdout)["error"]
    assert error["code"] == "OUTBOUND_AUTH_FAILED" and "401" in error["reason"]
    assert CLIENT_SECRET not in failed.stdout + failed.stderr


def echoing(tmp_path: Path, server: HTTPServer) -> Path:
    """A journey whose service echoes the token it received back under a name redaction does not know."""
    def echo(request: Request) -> Response:
        return Response(json.dumps({"seen": request.headers.get("Authorization")}), content_type="application/json")

    server.expect_request("/orders").respond_with_handler(echo)
    return journey(tmp_path, server, "static")


def test_a_secret_echoed_back_is_blanked_out_of_every_answer(tmp_path: Path, httpserver: HTTPServer) -> None:
    spec = echoing(tmp_path, httpserver)
    secrets = str(secrets_file(tmp_path))
    shown = []
    for output_format in ("json", "text"):
        run = jctl(tmp_path, "run", str(spec), "--secrets", secrets, "--format", output_format)
        shown += [run.stdout, run.stderr]
    journey_id = json.loads(jctl(tmp_path, "list", "--format", "json").stdout)[0]["journeyId"]
    for command in ("status", "history"):
        for output_format in ("json", "text"):
            shown.append(jctl(tmp_path, command, journey_id, "--secrets", secrets, "--format", output_format).stdout)
            shown.append(jctl(tmp_path, command, journey_id, "--format", output_format,
                              env={"JCTL_SECRETS": secrets}).stdout)  # the lean commands read JCTL_SECRETS
    assert all(TOKEN_SECRET not in text for text in shown)
    assert "Bearer ***" in shown[0]
    assert [r.headers["Authorization"] for r, _ in httpserver.log] == [f"Bearer {TOKEN_SECRET}"] * 2


def test_jctl_serve_uses_jctl_secrets_and_blanks_them_out(tmp_path: Path, httpserver: HTTPServer,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import httpx
    from serving import running_server

    from jctl.serve.engine import ServeSettings

    spec = echoing(tmp_path, httpserver)
    monkeypatch.setenv("JCTL_SECRETS", str(secrets_file(tmp_path)))
    with running_server(ServeSettings(folders=[tmp_path], db=tmp_path / "served.db")) as url:
        run = jctl(tmp_path, "run", str(spec), "--target", url, "--format", "json", env={"JCTL_SECRETS": ""})
        journey_id = json.loads(run.stdout)["journeyId"]
        shown = [run.stdout, *(jctl(tmp_path, command, journey_id, "--target", url, "--format", "json",
                                    env={"JCTL_SECRETS": ""}).stdout for command in ("status", "history")),
                 httpx.get(f"{url}/api/v1/journeys/{journey_id}/result").text,
                 httpx.get(f"{url}/api/v1/journeys?journeyName=demo").text]
    assert json.loads(run.stdout)["output"]["r0"]["body"] == {"seen": "Bearer ***"}
    assert all(TOKEN_SECRET not in text for text in shown)
    assert [r.headers["Authorization"] for r, _ in httpserver.log] == [f"Bearer {TOKEN_SECRET}"]
