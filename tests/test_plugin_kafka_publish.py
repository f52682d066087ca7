"""kafkaPublish:v1 end to end: records land in the store's outbox with the transition and `jctl outbox` shows
them; valueSchemaRef validation fails the task with the violation."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from conftest import jsonata, run_jctl, write_journey


def jctl(tmp_path: Path, *args: str, code: int = 0) -> Any:
    result = run_jctl(*args, cwd=tmp_path, env={"JCTL_DB": str(tmp_path / "jctl.db")})
    assert "Traceback" not in result.stdout + result.stderr
    assert result.returncode == code, result.stdout + result.stderr
    return result


def publisher(tmp_path: Path, **extra: Any) -> Path:
    publish = {"kind": "kafkaPublish:v1", "topic": "orders.events", "key": "${context.orderId}",
               "headers": {"x-source": "shop-${context.orderId}"},
               "value": {"mapper": jsonata('{"orderId": orderId, "total": total}')}, **extra}
    return write_journey(tmp_path, {
        "announce": {"type": "task", "task": publish, "next": "audit"},
        "audit": {"type": "task", "task": {"kind": "kafkaPublish:v1", "topic": "audit",
                                           "value": {"mapper": jsonata('{"seen": orderId}')}}, "next": "done"},
        "done": {"type": "succeed"}}, "announce")


def test_records_reach_the_outbox_with_their_instance_state_and_headers(tmp_path: Path) -> None:
    spec = publisher(tmp_path)
    run = json.loads(jctl(tmp_path, "run", str(spec), "--input", '{"orderId": "o-7", "total": 12}',
                          "--format", "json").stdout)
    assert run["phase"] == "SUCCEEDED"
    records = json.loads(jctl(tmp_path, "outbox", "--format", "json").stdout)
    assert [(r["topic"], r["key"], r["value"], r["state"]) for r in records] == [
        ("orders.events", "o-7", {"orderId": "o-7", "total": 12}, "announce"),
        ("audit", None, {"seen": "o-7"}, "audit")]
    assert records[0]["headers"] == {"x-source": "shop-o-7"}
    assert {r["instance"] for r in records} == {run["journeyId"]}
    only = json.loads(jctl(tmp_path, "outbox", "--topic", "audit", "--format", "json").stdout)
    assert [r["value"] for r in only] == [{"seen": "o-7"}]
    assert "orders.events" in jctl(tmp_path, "outbox").stdout


def test_value_schema_ref_rejects_a_record_that_does_not_match(tmp_path: Path) -> None:
    (tmp_path / "order.schema.json").write_text(json.dumps({
        "type": "object", "required": ["orderId", "total"],
        "properties": {"total": {"type": "integer", "minimum": 0}}}))
    spec = publisher(tmp_path, valueSchemaRef="order.schema.json")
    good = json.loads(jctl(tmp_path, "run", str(spec), "--input", '{"orderId": "o-1", "total": 3}',
                           "--format", "json").stdout)
    assert good["phase"] == "SUCCEEDED"
    bad = json.loads(jctl(tmp_path, "run", str(spec), "--input", '{"orderId": "o-2", "total": -1}',
                          "--format", "json", code=1).stdout)
    assert bad["phase"] == "FAILED" and bad["error"]["code"] == "SCHEMA_VIOLATION"
    assert "total" in bad["error"]["reason"]
    records = json.loads(jctl(tmp_path, "outbox", "--format", "json").stdout)
    assert [r["value"].get("orderId", r["value"].get("seen")) for r in records] == ["o-1", "o-1"]  # o-2: none


def test_outbox_rows_commit_in_the_transition_and_are_never_duplicated(tmp_path: Path) -> None:
    spec = publisher(tmp_path)
    jctl(tmp_path, "run", str(spec), "--input", '{"orderId": "o-3", "total": 1}')
    with sqlite3.connect(tmp_path / "jctl.db") as conn:
        published = conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
        completions = conn.execute("SELECT COUNT(*) FROM events WHERE type = 'state.completed' "
                                   "AND state IN ('announce', 'audit')").fetchone()[0]
    assert published == completions == 2


def test_empty_outbox_and_unknown_instance(tmp_path: Path) -> None:
    assert json.loads(jctl(tmp_path, "outbox", "--format", "json").stdout) == []
    assert "no records" in jctl(tmp_path, "outbox").stdout
    jctl(tmp_path, "outbox", "--instance", "nope", code=1)
