"""`jctl --help` and `jctl status` stay lean: they never import the engines, HTTP, JSON Schema or the runner
(bench/startup.py measures the time; this guards the cause)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from conftest import CASES, run_jctl

HEAVY = ("jsonschema", "httpx", "sqlite_utils", "jq", "jsonata", "dataweave", "jctl.engine.runner",
         "jctl.engine.interpreter", "jctl.expr", "jctl.checks")


def imported_modules(stderr: str) -> set[str]:
    """Module names from `python -X importtime` output."""
    return {match.group(1) for match in re.finditer(r"^import time:.*\|\s*(\S+)\s*$", stderr, re.MULTILINE)}


def heavy_among(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


def test_help_imports_nothing_heavy(tmp_path: Path) -> None:
    result = run_jctl("--help", cwd=tmp_path, env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert result.returncode == 0, result.stderr
    modules = imported_modules(result.stderr)
    assert "jctl.cli.app" in modules  # the output really is the import log
    assert heavy_among(modules) == [] and "sqlite3" not in modules


def test_status_reads_the_store_without_the_runner(tmp_path: Path) -> None:
    db = str(tmp_path / "jctl.db")
    started = run_jctl("run", str(CASES / "runner" / "approval.journey.yaml"), "-i", '{"orderId": "o-1"}',
                       "--detach", "-f", "json", "--db", db, cwd=tmp_path)
    assert started.returncode == 0, started.stderr
    instance_id = json.loads(started.stdout)["journeyId"]
    result = run_jctl("status", instance_id, "--db", db, "-f", "json", cwd=tmp_path,
                      env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["journeyId"] == instance_id
    modules = imported_modules(result.stderr)
    assert "jctl.store.db" in modules and heavy_among(modules) == []
