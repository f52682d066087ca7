"""cache:v1 end to end: a put by one instance is read by another; entries expire on the simulated clock."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conftest import cache_journeys, run_jctl


def jctl(tmp_path: Path, *args: str, code: int = 0) -> Any:
    result = run_jctl(*args, cwd=tmp_path, env={"JCTL_DB": str(tmp_path / "jctl.db")})
    assert "Traceback" not in result.stdout + result.stderr
    assert result.returncode == code, result.stdout + result.stderr
    return result


def read(tmp_path: Path, reader: Path, user: str) -> Any:
    envelope = json.loads(jctl(tmp_path, "run", str(reader), "--input", json.dumps({"userId": user}),
                               "--format", "json").stdout)
    assert envelope["phase"] == "SUCCEEDED"
    return envelope["output"]


def test_a_put_is_read_across_instances_until_its_ttl_passes(tmp_path: Path) -> None:
    writer, reader = cache_journeys(tmp_path)
    assert read(tmp_path, reader, "u1") is None  # miss: null
    jctl(tmp_path, "run", str(writer), "--input", '{"userId": "u1", "profile": {"name": "Ada", "tier": 2}}')
    assert read(tmp_path, reader, "u1") == {"name": "Ada", "tier": 2}
    assert read(tmp_path, reader, "u2") is None
    jctl(tmp_path, "clock", "advance", "PT9M")
    assert read(tmp_path, reader, "u1") == {"name": "Ada", "tier": 2}
    jctl(tmp_path, "clock", "advance", "PT1M")
    assert read(tmp_path, reader, "u1") is None  # expired at exactly 600 s


def test_history_records_hit_and_miss(tmp_path: Path) -> None:
    _, reader = cache_journeys(tmp_path)
    envelope = json.loads(jctl(tmp_path, "run", str(reader), "--input", '{"userId": "u9"}', "--format", "json").stdout)
    events = json.loads(jctl(tmp_path, "history", envelope["journeyId"], "--format", "json").stdout)
    recorded = [e["data"]["cache"] for e in events if "cache" in e.get("data", {})]
    assert recorded == [{"operation": "get", "key": "user:u9", "hit": False}]
