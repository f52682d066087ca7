"""`platform.config`: declared keys bound from a --config file or JCTL_CONFIG_<key>, checked before anything runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import run_jctl
from jctl.engine.errors import InvalidInput
from jctl.engine.platform import resolve_platform_config

SPEC = {"platform": {"config": {
    "publicBaseUrl": {"type": "string", "required": True},
    "threshold": {"type": "number", "required": False},
    "risk": {"type": "object"},
}}}

JOURNEY = """\
apiVersion: v1
kind: Journey
metadata:
  name: platform-config-demo
  version: 1.0.0
spec:
  platform:
    config:
      publicBaseUrl:
        type: string
        required: true
      threshold:
        type: number
        required: false
  start: link
  states:
    link:
      type: transform
      transform:
        mapper:
          lang: jsonata
          expr: '{"url": platform.config.publicBaseUrl & "/verify", "threshold": platform.config.threshold, "keys": $keys(platform.config)}'
        target:
          kind: var
        resultVar: result
      next: done
    done:
      type: succeed
      outputVar: result
"""


def test_values_come_from_the_file_then_the_environment():
    values = resolve_platform_config(SPEC, {"publicBaseUrl": "https://x.test"},
                                     {"JCTL_CONFIG_threshold": "0.8", "JCTL_CONFIG_risk": '{"max": 3}'})
    assert values == {"publicBaseUrl": "https://x.test", "threshold": 0.8, "risk": {"max": 3}}


def test_undeclared_keys_are_not_bound():
    values = resolve_platform_config(SPEC, {"publicBaseUrl": "https://x.test", "secret": "nope"}, {})
    assert "secret" not in values


@pytest.mark.parametrize(("supplied", "problem"), [
    ({}, "`publicBaseUrl` is required"),
    ({"publicBaseUrl": 7}, "`publicBaseUrl` must be string"),
    ({"publicBaseUrl": "u", "threshold": True}, "`threshold` must be number"),
])
def test_missing_or_mistyped_values_refuse_the_start(supplied, problem):
    with pytest.raises(InvalidInput) as error:
        resolve_platform_config(SPEC, supplied, {})
    assert any(problem in detail for detail in error.value.details)


def test_run_binds_config_and_refuses_without_it(tmp_path: Path):
    spec = tmp_path / "demo.journey.yaml"
    spec.write_text(JOURNEY)
    config = tmp_path / "local.json"
    config.write_text(json.dumps({"publicBaseUrl": "https://app.test", "unused": 1}))
    db = str(tmp_path / "j.db")
    result = run_jctl("run", str(spec), "--config", str(config), "--db", db, "--format", "json",
                      env={"JCTL_CONFIG_threshold": "0.5"})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["output"] == {
        "url": "https://app.test/verify", "threshold": 0.5, "keys": ["publicBaseUrl", "threshold"]}
    refused = run_jctl("run", str(spec), "--db", db)
    assert refused.returncode == 2
    assert "publicBaseUrl` is required" in refused.stderr
    listed = json.loads(run_jctl("list", "--db", db, "--format", "json").stdout)
    assert len(listed) == 1  # the refused start created nothing
