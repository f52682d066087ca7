"""spec.access.read.guardRef (dsl.md 23.1) on `status` and `history` when an inbound identity is supplied: the
guard subjourney runs an auth plugin over the request; a denial is indistinguishable from an unknown id."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conftest import jsonata, run_jctl, write_journey

OWNER_KEY = "owner-key-5678"


def jctl(tmp_path: Path, *args: str) -> Any:
    result = run_jctl(*args, cwd=tmp_path, env={"JCTL_DB": str(tmp_path / "jctl.db"),
                                                "JCTL_PLUGIN_CONFIG": str(tmp_path / "plugins.yaml"),
                                                "JCTL_SECRETS": str(tmp_path / "secrets.yaml")})
    assert "Traceback" not in result.stdout + result.stderr
    return result


def test_guard_allows_the_owner_and_conceals_the_instance_from_others(tmp_path: Path) -> None:
    (tmp_path / "plugins.yaml").write_text("apiKeyValidate:\n  profiles:\n    default:\n"
                                           "      source: {location: header, name: X-Api-Key}\n"
                                           "      keys: {owner: 'secret://keys/owner'}\n")
    (tmp_path / "secrets.yaml").write_text(f"secret://keys/owner: {OWNER_KEY}\n")
    guard = {"start": "check", "states": {
        "check": {"type": "task", "task": {"kind": "apiKeyValidate:v1"}, "next": "decide"},
        "decide": {"type": "transform", "transform": {"mapper": jsonata('{"allowed": $exists(auth.apiKey.keyId)}')},
                   "next": "done"},
        "done": {"type": "succeed"}}}
    spec = write_journey(tmp_path, {
        "wait": {"type": "wait", "wait": {"channel": "manual", "input": {"schema": {"type": "object"}}},
                 "next": "done"},
        "done": {"type": "succeed"}}, "wait", subjourneys={"readGuard": guard},
        access={"read": {"guardRef": "readGuard"}})
    started = json.loads(jctl(tmp_path, "run", str(spec), "--format", "json").stdout)
    journey_id = started["journeyId"]
    for command in ("status", "history"):
        assert jctl(tmp_path, command, journey_id, "--format", "json").returncode == 0  # local operator: no guard
        owner = jctl(tmp_path, command, journey_id, "--header", f"X-Api-Key={OWNER_KEY}", "--format", "json")
        assert owner.returncode == 0 and ("journey.started" in owner.stdout or journey_id in owner.stdout)
        denied = jctl(tmp_path, command, journey_id, "--header", "X-Api-Key=stranger")
        unknown = jctl(tmp_path, command, "ffffffffffff", "--header", "X-Api-Key=stranger")
        assert denied.returncode == unknown.returncode == 1
        assert denied.stderr.replace(journey_id, "ID") == unknown.stderr.replace("ffffffffffff", "ID")
    status = json.loads(jctl(tmp_path, "status", journey_id, "--format", "json").stdout)
    assert "auth" not in json.dumps(status)  # the guard ran on a copy: the instance context is unchanged
