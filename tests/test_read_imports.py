"""`jctl list`, `status` and `history` import what reading and printing need and no more: a listing no dataclasses,
none of the three the records the runner and plugins exchange with the store, nor rich when they print plainly
(bench/startup.py measures the time; this guards the cause)."""

from __future__ import annotations

from pathlib import Path

from conftest import run_jctl
from test_startup_imports import detached_instance, imported_modules

PROFILE = {"PYTHONPROFILEIMPORTTIME": "1", "JCTL_DAEMON": "0"}


def test_reads_import_only_what_they_print(tmp_path: Path) -> None:
    db = str(tmp_path / "jctl.db")
    instance_id = detached_instance(db, tmp_path)
    never = {"rich", "jctl.store.records", "jctl.engine.cookies"}

    listed = run_jctl("list", "-f", "json", "--db", db, cwd=tmp_path, env=PROFILE)
    assert listed.returncode == 0 and instance_id in listed.stdout, listed.stderr
    modules = imported_modules(listed.stderr)
    assert "jctl.store.db" in modules
    assert modules & (never | {"dataclasses", "jctl.store.models"}) == set()

    for command in ("status", "history"):
        shown = run_jctl(command, instance_id, "--db", db, cwd=tmp_path, env=PROFILE)
        assert shown.returncode == 0 and shown.stdout.startswith(("RUNNING", "┏")), shown.stdout + shown.stderr
        modules = imported_modules(shown.stderr)
        assert "jctl.store.models" in modules and modules & never == set(), command
