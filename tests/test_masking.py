"""Schema-marked secrets (writeOnly / format: password) are masked in status and history; the instance still
uses the real values."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import jsonata, run_jctl, write_journey
from pytest_httpserver import HTTPServer

from jctl.masking import definition_paths, masked

PIN = "9876-pin"
PASSWORD = "hunter2-password"


def jctl(tmp_path: Path, *args: str) -> Any:
    result = run_jctl(*args, cwd=tmp_path, env={"JCTL_DB": str(tmp_path / "jctl.db")})
    assert "Traceback" not in result.stdout + result.stderr
    return result


def test_masked_paths_cover_nested_and_array_fields() -> None:
    schema = {"type": "object", "properties": {
        "user": {"type": "object", "properties": {"password": {"type": "string", "format": "password"}}},
        "cards": {"type": "array", "items": {"type": "object", "properties": {"pin": {"writeOnly": True}}}}}}
    paths = definition_paths({"spec": {"input": {"schema": schema}, "states": {}}})
    assert paths == [("cards", "*", "pin"), ("user", "password")]
    value = {"user": {"password": "x", "name": "ada"}, "cards": [{"pin": "1"}, {"pin": "2"}]}
    assert masked(value, paths) == {"user": {"password": "***", "name": "ada"}, "cards": [{"pin": "***"}] * 2}
    assert value["user"]["password"] == "x"  # a copy is masked


def test_status_and_history_mask_start_and_step_secrets(tmp_path: Path) -> None:
    spec = write_journey(tmp_path, {
        "login": {"type": "wait", "wait": {"channel": "manual", "input": {"schema": {
            "type": "object", "properties": {"password": {"type": "string", "format": "password"}}}}},
            "next": "check"},
        "check": {"type": "transform", "transform": {"mapper": jsonata(
            '$merge([context, {"pinLength": $length(context.pin), "passwordOk": payload.password = "' + PASSWORD + '"}])')},
            "next": "done"},
        "done": {"type": "succeed"}}, "login",
        input={"schema": {"type": "object", "properties": {"pin": {"type": "string", "writeOnly": True}}}})
    started = json.loads(jctl(tmp_path, "run", str(spec), "--input", json.dumps({"pin": PIN}),
                              "--format", "json").stdout)
    jctl(tmp_path, "signal", started["journeyId"], "--payload", json.dumps({"password": PASSWORD}))
    status = jctl(tmp_path, "status", started["journeyId"], "--format", "json").stdout
    output = json.loads(status)["output"]
    assert output["pinLength"] == len(PIN) and output["passwordOk"] is True  # the instance used the values
    assert output["pin"] == "***" and output["payload"]["password"] == "***"
    assert PIN not in status and PASSWORD not in status
    for args in (("--format", "json"), ()):
        history = jctl(tmp_path, "history", started["journeyId"], *args).stdout
        assert PIN not in history and PASSWORD not in history and "***" in history
    assert PIN not in jctl(tmp_path, "list", "--format", "json").stdout


def secret_journey(tmp_path: Path, server: HTTPServer) -> Path:
    """A start input pin (writeOnly) and a step password (format: password), each sent to a real server."""
    login_schema = {"type": "object", "properties": {"password": {"type": "string", "format": "password"}}}
    return write_journey(tmp_path, {
        "enrol": {"type": "task", "task": {"kind": "httpCall:v1", "method": "POST", "url": server.url_for("/enrol"),
                                           "body": {"mapper": jsonata('{"pin": pin}')}, "resultVar": "enrolled"},
                  "next": "login"},
        "login": {"type": "wait", "wait": {"channel": "manual", "input": {"schema": login_schema}}, "next": "check"},
        "check": {"type": "task", "task": {"kind": "httpCall:v1", "method": "POST", "url": server.url_for("/login"),
                                           "body": {"mapper": jsonata('{"password": payload.password}')},
                                           "resultVar": "checked"},
                  "next": "done"},
        "done": {"type": "succeed"}}, "enrol", name="secretive",
        input={"schema": {"type": "object", "properties": {"pin": {"type": "string", "writeOnly": True}}}})


def received(server: HTTPServer, path: str) -> list[Any]:
    return [json.loads(request.get_data()) for request, _ in server.log if request.path == path]


def assert_hidden(*texts: str) -> None:
    for text in texts:
        assert PIN not in text and PASSWORD not in text, text


@pytest.mark.parametrize("output_format", ["json", "text"])
def test_run_and_signal_mask_what_they_print(tmp_path: Path, httpserver: HTTPServer, output_format: str) -> None:
    httpserver.expect_request("/enrol").respond_with_json({"ok": True})
    httpserver.expect_request("/login").respond_with_json({"ok": True})
    spec = secret_journey(tmp_path, httpserver)
    run = jctl(tmp_path, "run", str(spec), "--input", json.dumps({"pin": PIN}), "--format", output_format)
    assert run.returncode == 0, run.stdout + run.stderr
    journey_id = json.loads(jctl(tmp_path, "list", "--format", "json").stdout)[0]["journeyId"]
    signal = jctl(tmp_path, "signal", journey_id, "--payload", json.dumps({"password": PASSWORD}),
                  "--format", output_format)
    assert signal.returncode == 0, signal.stdout + signal.stderr
    again = jctl(tmp_path, "signal", journey_id, "--payload", json.dumps({"password": PASSWORD}),
                 "--format", output_format)  # refused: the instance has ended; the refusal names no value
    assert again.returncode == 1
    assert_hidden(run.stdout, run.stderr, signal.stdout, signal.stderr, again.stdout, again.stderr)
    assert received(httpserver, "/enrol") == [{"pin": PIN}]  # the instance used the real values
    assert received(httpserver, "/login") == [{"password": PASSWORD}]
    shown = signal.stdout
    if output_format == "json":
        output = json.loads(shown)["output"]
        assert output["pin"] == "***" and output["payload"]["password"] == "***"
    else:
        assert '"pin": "***"' in shown and '"password": "***"' in shown


def test_idempotent_replays_and_cancel_are_masked_too(tmp_path: Path) -> None:
    spec = write_journey(tmp_path, {
        "login": {"type": "wait", "wait": {"channel": "manual", "input": {"schema": {
            "type": "object", "properties": {"password": {"type": "string", "format": "password"}}}}},
            "next": "login"}}, "login",
        input={"schema": {"type": "object", "properties": {"pin": {"type": "string", "writeOnly": True}}}})
    first = jctl(tmp_path, "run", str(spec), "--input", json.dumps({"pin": PIN}), "--idempotency-key", "k1",
                 "--format", "json")
    replay = jctl(tmp_path, "run", str(spec), "--input", json.dumps({"pin": PIN}), "--idempotency-key", "k1",
                  "--format", "json")
    journey_id = json.loads(first.stdout)["journeyId"]
    assert json.loads(replay.stdout)["journeyId"] == journey_id
    signals = [jctl(tmp_path, "signal", journey_id, "--payload", json.dumps({"password": PASSWORD}),
                    "--idempotency-key", "s1", "--format", "json") for _ in range(2)]
    cancel = jctl(tmp_path, "cancel", journey_id, "--format", "json")
    assert json.loads(cancel.stdout)["phase"] == "FAILED"
    assert_hidden(first.stdout, replay.stdout, *(s.stdout for s in signals), cancel.stdout)


def test_serve_and_remote_targets_mask_every_answer(tmp_path: Path, httpserver: HTTPServer) -> None:
    import httpx
    from serving import running_server

    from jctl.serve.engine import ServeSettings

    httpserver.expect_request("/enrol").respond_with_json({"ok": True})
    httpserver.expect_request("/login").respond_with_json({"ok": True})
    spec = secret_journey(tmp_path, httpserver)
    settings = ServeSettings(folders=[tmp_path], db=tmp_path / "served.db", tick_interval_s=0.05)
    with running_server(settings) as url:
        run = jctl(tmp_path, "run", str(spec), "--input", json.dumps({"pin": PIN}), "--target", url,
                   "--format", "json")
        journey_id = json.loads(run.stdout)["journeyId"]
        signal = jctl(tmp_path, "signal", journey_id, "--payload", json.dumps({"password": PASSWORD}),
                      "--target", url)
        shown = [run.stdout, run.stderr, signal.stdout, signal.stderr]
        for command in (("status", journey_id), ("history", journey_id), ("list",)):
            for output_format in ("json", "text"):
                result = jctl(tmp_path, *command, "--target", url, "--format", output_format)
                assert result.returncode == 0, result.stdout + result.stderr
                shown += [result.stdout, result.stderr]
        api = f"{url}/api/v1/journeys"
        for path in (f"/{journey_id}", f"/{journey_id}/result", "?journeyName=secretive"):
            shown.append(httpx.get(api + path).text)
        started = httpx.post(f"{api}/secretive/start", json={"pin": PIN}).json()
        shown.append(httpx.post(f"{api}/{started['journeyId']}/steps/login", json={"password": PASSWORD}).text)
    assert_hidden(*shown)
    assert received(httpserver, "/enrol") == [{"pin": PIN}] * 2
    assert received(httpserver, "/login") == [{"password": PASSWORD}] * 2
    assert '"pin": "***"' in shown[2] and '"password": "***"' in shown[2]  # the human outcome of signal


def test_a_step_inside_a_parallel_branch_is_masked_too(tmp_path: Path) -> None:
    login = {"type": "wait", "wait": {"channel": "manual", "input": {"schema": {
        "type": "object", "properties": {"password": {"type": "string", "format": "password"}}}}}, "next": "ok"}
    spec = write_journey(tmp_path, {
        "fan": {"type": "parallel", "parallel": {"branches": [
            {"name": "a", "start": "login", "states": {"login": login, "ok": {"type": "succeed"}}}]}, "next": "done"},
        "done": {"type": "succeed"}}, "fan")
    started = json.loads(jctl(tmp_path, "run", str(spec), "--format", "json").stdout)
    signal = jctl(tmp_path, "signal", started["journeyId"], "--payload", json.dumps({"password": PASSWORD}),
                  "--format", "json")
    assert json.loads(signal.stdout)["phase"] == "SUCCEEDED"
    history = jctl(tmp_path, "history", started["journeyId"], "--format", "json").stdout
    assert PASSWORD not in signal.stdout + history and '"password": "***"' in history


def test_a_refused_secret_is_not_quoted_in_the_refusal(tmp_path: Path) -> None:
    spec = write_journey(tmp_path, {
        "login": {"type": "wait", "wait": {"channel": "manual", "input": {"schema": {
            "type": "object", "properties": {"password": {"type": "string", "format": "password",
                                                          "minLength": 32}}}}}, "next": "done"},
        "done": {"type": "succeed"}}, "login",
        input={"schema": {"type": "object", "properties": {"pin": {"type": "string", "writeOnly": True,
                                                                   "pattern": "^[0-9]+$"}}}})
    refused = jctl(tmp_path, "run", str(spec), "--input", json.dumps({"pin": PIN}))
    assert refused.returncode == 2 and "pin" in refused.stderr and "pattern" in refused.stderr
    started = json.loads(jctl(tmp_path, "run", str(spec), "--input", '{"pin": "1234"}', "--format", "json").stdout)
    short = jctl(tmp_path, "signal", started["journeyId"], "--payload", json.dumps({"password": PASSWORD}))
    assert short.returncode == 1 and "minLength" in short.stdout + short.stderr
    assert_hidden(refused.stdout, refused.stderr, short.stdout, short.stderr)
