"""Nothing silently ignored: every construct in jctl.engine.support.NOT_SUPPORTED fails the instance with
NOT_SUPPORTED naming it. Implementing a construct removes its table line; its sample below then simply goes unused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import run_jctl, write_journey
from jctl.engine.runner import Runner
from jctl.engine.support import NOT_SUPPORTED
from jctl.store import Store

CALL = {"kind": "httpCall:v1", "method": "GET", "url": "http://127.0.0.1:9/login", "resultVar": "login"}
PLUGIN_TASKS: dict[str, dict[str, Any]] = {
    "kafkaPublish:v1": {"topic": "orders", "value": {"mapper": {"lang": "jsonata", "expr": "context"}}},
    "xmlDecode:v1": {"sourceVar": "xml", "target": {"kind": "var"}, "resultVar": "decoded"},
    "schedule:v1": {"start": "done", "startAt": {"mapper": {"lang": "jsonata", "expr": "'2026-01-01T00:00:00Z'"}},
                    "interval": "P1D", "maxRuns": 2},
    "cache:v1": {"operation": "get", "key": {"mapper": {"lang": "jsonata", "expr": "'k'"}}, "resultVar": "cached"},
    "jwtValidate:v1": {"profile": "default", "authVar": "auth"},
    "mtlsValidate:v1": {"profile": "default", "authVar": "auth"},
    "apiKeyValidate:v1": {"profile": "default", "authVar": "auth"},
}
# construct path -> (extra spec blocks, task fields) that put it in an otherwise runnable journey
SAMPLES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "spec.compensation": ({"compensation": {"start": "undo", "states": {"undo": {"type": "succeed"}}}}, {}),
    "spec.metadata.bindings": ({"metadata": {"bindings": {"tags": {"fromPayload": [{"path": "region"}]}}}}, {}),
    "spec.policies.httpResilience.default": (
        {"policies": {"httpResilience": {"default": "std", "definitions": {"std": {"maxAttempts": 2}}}}}, {}),
    "spec.policies.httpClientAuth.default": ({"policies": {"httpClientAuth": {"default": "token", "definitions": {
        "token": {"kind": "bearerStatic", "tokenRef": "secret://token"}}}}}, {}),
    "spec.defaults.tasks.resiliencePolicyRef": (
        {"defaults": {"tasks": {"resiliencePolicyRef": "std"}},
         "policies": {"httpResilience": {"definitions": {"std": {"maxAttempts": 2}}}}}, {}),
    "spec.outcomes": ({"outcomes": {"Done": {"when": {"phase": "SUCCEEDED"}}}}, {}),
    "spec.cookies": ({"cookies": {"jar": {"domains": [{"pattern": "127.0.0.1"}]}}}, {}),
    "spec.errors.envelope.mapper": ({"errors": {"envelope": {"format": "custom", "mapper": {
        "lang": "jsonata", "expr": "{\"message\": error.reason}"}}}}, {}),
    "task.resiliencePolicyRef": ({"policies": {"httpResilience": {"definitions": {"std": {"maxAttempts": 2}}}}},
                                 {"resiliencePolicyRef": "std"}),
    "task.auth": ({"policies": {"httpClientAuth": {"definitions": {
        "token": {"kind": "bearerStatic", "tokenRef": "secret://token"}}}}}, {"auth": {"policyRef": "token"}}),
    "task.cookies": ({"cookies": {"jar": {"domains": [{"pattern": "127.0.0.1"}]}}}, {"cookies": {"useJar": True}}),
    **{f"task.kind={kind}": ({}, {"kind": kind, **fields}) for kind, fields in PLUGIN_TASKS.items()},
}


def journey_with(tmp_path: Path, construct: str) -> Path:
    assert construct in SAMPLES, f"add a sample journey for {construct} to SAMPLES"
    spec, task_fields = SAMPLES[construct]
    task = {**CALL, **task_fields}
    if "kind" in task_fields:
        task = {"kind": task_fields["kind"], **{k: v for k, v in task_fields.items() if k != "kind"}}
    states = {"first": {"type": "task", "task": task, "next": "done"}, "done": {"type": "succeed"}}
    return write_journey(tmp_path, states, "first", **spec)


@pytest.mark.parametrize("construct", sorted(NOT_SUPPORTED))
def test_each_unsupported_construct_fails_the_instance_naming_it(construct: str, tmp_path: Path) -> None:
    runner = Runner(Store.open(tmp_path / "jctl.db"))
    outcome = runner.start(journey_with(tmp_path, construct), {"region": "eu"})
    assert outcome["phase"] == "FAILED", outcome
    assert outcome["error"]["code"] == "NOT_SUPPORTED"
    assert construct in outcome["error"]["reason"]


def test_a_journey_without_them_runs(tmp_path: Path) -> None:
    path = write_journey(tmp_path, {"done": {"type": "succeed"}}, "done",
                         policies={"httpResilience": {"definitions": {"std": {"maxAttempts": 2}}}})
    assert Runner(Store.open(tmp_path / "jctl.db")).start(path, {})["phase"] == "SUCCEEDED"


@pytest.mark.skipif(not NOT_SUPPORTED, reason="every construct is implemented")
def test_the_cli_reports_the_refusal(tmp_path: Path) -> None:
    construct = sorted(NOT_SUPPORTED)[0]
    path = journey_with(tmp_path, construct)
    result = run_jctl("run", str(path), "--input", "{}", "--format", "json", "--db", str(tmp_path / "jctl.db"))
    outcome = json.loads(result.stdout)
    assert result.returncode == 1, result.stderr
    assert outcome["error"]["code"] == "NOT_SUPPORTED" and construct in outcome["error"]["reason"]


def test_the_samples_are_lint_clean(tmp_path: Path) -> None:
    """Guards the table test against passing for the wrong reason (a refused spec is InvalidSpec, not FAILED)."""
    from jctl.diagnostics import Severity
    from jctl.lint import lint_file

    for construct in NOT_SUPPORTED:
        path = journey_with(tmp_path, construct)
        errors = [d for d in lint_file(path) if d.severity == Severity.ERROR]
        assert errors == [], (construct, yaml.safe_load(path.read_text()), errors)
