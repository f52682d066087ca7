"""Schema-marked secrets (writeOnly / format: password) are masked in status and history; the instance still
uses the real values."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conftest import jsonata, run_jctl, write_journey

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
