"""`jctl --help` and `jctl status` stay lean: they never import the engines, HTTP, JSON Schema or the runner
(bench/startup.py measures the time; this guards the cause)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from conftest import CASES, run_jctl, write_journey

HEAVY = ("jsonschema", "httpx", "sqlite_utils", "jq", "jsonata", "dataweave", "jctl.engine.runner",
         "jctl.engine.interpreter", "jctl.expr", "jctl.checks")


def imported_modules(stderr: str) -> set[str]:
    """Module names from `python -X importtime` output."""
    return {match.group(1) for match in re.finditer(r"^import time:.*\|\s*(\S+)\s*$", stderr, re.MULTILINE)}


def heavy_among(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))



def detached_instance(db: str, folder: Path) -> str:
    """The id of an approval journey created (not run) in store `db`."""
    started = run_jctl("run", str(CASES / "runner" / "approval.journey.yaml"), "-i", '{"orderId": "o-1"}',
                       "--detach", "-f", "json", "--db", db, cwd=folder)
    assert started.returncode == 0, started.stderr
    instance_id: str = json.loads(started.stdout)["journeyId"]
    return instance_id

def test_help_imports_nothing_heavy(tmp_path: Path) -> None:
    result = run_jctl("--help", cwd=tmp_path, env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert result.returncode == 0, result.stderr
    modules = imported_modules(result.stderr)
    assert "jctl.cli.app" in modules  # the output really is the import log
    assert heavy_among(modules) == [] and "sqlite3" not in modules


def test_status_reads_the_store_without_the_runner(tmp_path: Path) -> None:
    db = str(tmp_path / "jctl.db")
    instance_id = detached_instance(db, tmp_path)
    result = run_jctl("status", instance_id, "--db", db, "-f", "json", cwd=tmp_path,
                      env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["journeyId"] == instance_id
    modules = imported_modules(result.stderr)
    assert "jctl.store.db" in modules and heavy_among(modules) == []


FRAMEWORK = ("typer", "click", "rich", "httpx")


def among(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in names))


def test_run_and_signal_skip_the_framework_and_what_the_journey_does_not_use(tmp_path: Path) -> None:
    """A journey that waits and succeeds: `run` and `signal` parse their flags without the CLI framework, print
    without rich, and load neither HTTP nor an expression engine; `signal` not even YAML or the linter."""
    spec = write_journey(tmp_path, {"decide": {"type": "wait", "wait": {"channel": "manual", "input": {"schema": {
        "type": "object", "required": ["ok"]}}}, "next": "done"}, "done": {"type": "succeed"}}, "decide")
    db = str(tmp_path / "jctl.db")
    assert run_jctl("run", str(spec), "--db", db, "--detach", cwd=tmp_path).returncode == 0  # creating a store
    env = {"PYTHONPROFILEIMPORTTIME": "1"}  # (which imports sqlite-utils) is not what this measures
    started = run_jctl("run", str(spec), "--db", db, "-f", "json", cwd=tmp_path, env=env)
    assert started.returncode == 0, started.stderr
    modules = imported_modules(started.stderr)
    assert "jctl.engine.runner" in modules and among(modules, FRAMEWORK) == []
    instance_id = json.loads(started.stdout.split("\nimport time")[0])["journeyId"]
    signalled = run_jctl("signal", instance_id, "-p", '{"ok": 1}', "--db", db, cwd=tmp_path, env=env)
    assert signalled.returncode == 0 and "SUCCEEDED" in signalled.stdout, signalled.stderr
    modules = imported_modules(signalled.stderr)
    assert "jctl.engine.runner" in modules
    assert among(modules, (*FRAMEWORK, "yaml", "jsonschema", "jctl.checks", "jctl.expr.worker", "jctl.diagnostics")) == []


def test_an_unusual_signal_goes_to_the_full_app(tmp_path: Path) -> None:
    result = run_jctl("signal", "nope", "-p", "{}", "--header", "X-Who=me", "--db", str(tmp_path / "jctl.db"),
                      cwd=tmp_path, env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert result.returncode == 1 and "no instance id starts with 'nope'" in result.stderr
    assert "typer" in imported_modules(result.stderr)


def test_list_prints_its_table_without_rich(tmp_path: Path) -> None:
    db = str(tmp_path / "jctl.db")
    detached_instance(db, tmp_path)
    listed = run_jctl("list", "--db", db, cwd=tmp_path, env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert listed.returncode == 0 and "┃ id " in listed.stdout and "│ approval │" in listed.stdout
    assert among(imported_modules(listed.stderr), FRAMEWORK) == []
