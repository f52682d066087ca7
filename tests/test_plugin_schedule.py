"""schedule:v1 end to end: bindings with their identity key and onExisting, runs fired by `jctl clock advance`
from the binding's start state with the evolving context, stopping at maxRuns; `jctl schedules` and cancel."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conftest import cli_in, cli_json_in, jsonata, run_jctl, write_journey

from jctl.store.db import Store


def billing(tmp_path: Path, on_existing: str = "fail", max_runs: int = 3) -> Path:
    schedule = {"kind": "schedule:v1", "start": "charge", "interval": "P1D", "maxRuns": max_runs,
                "startAt": {"mapper": jsonata("firstRunAt")}, "subjectId": {"mapper": jsonata("userId")},
                "context": {"mapper": jsonata('{"userId": userId, "charged": 0}')}, "onExisting": on_existing}
    return write_journey(tmp_path, {
        "enrol": {"type": "task", "task": schedule, "next": "enrolled"},
        "enrolled": {"type": "succeed"},
        "charge": {"type": "transform",
                   "transform": {"mapper": jsonata('$merge([$, {"charged": charged + 1}])')}, "next": "charged"},
        "charged": {"type": "succeed"}}, "enrol", name="billing")


def start(tmp_path: Path, spec: Path, user: str = "u1", code: int = 0) -> Any:
    with Store.open(tmp_path / "jctl.db") as store:  # today on the store's clock (`jctl clock` is tested apart)
        first = store.now().date().isoformat() + "T12:00:00Z"
    return cli_json_in(tmp_path, "run", str(spec), "--input", json.dumps({"userId": user, "firstRunAt": first}),
                   code=code)


def test_runs_fire_on_the_clock_with_evolving_context_until_max_runs(tmp_path: Path) -> None:
    cli_in(tmp_path, "clock", "set", "2030-01-01T00:00:00Z")
    spec = billing(tmp_path)
    assert start(tmp_path, spec)["phase"] == "SUCCEEDED"
    [binding] = cli_json_in(tmp_path, "schedules")
    assert binding["nextRun"] == "2030-01-01T12:00:00.000Z" and binding["runsExecuted"] == 0
    assert (binding["subjectId"], binding["start"], binding["status"]) == ("u1", "charge", "ACTIVE")
    fired = cli_in(tmp_path, "clock", "advance", "P7D").stdout
    assert fired.count("started scheduled run") == 3
    runs = [i for i in cli_json_in(tmp_path, "list") if i["currentState"] != "enrolled"]
    outputs = sorted(cli_json_in(tmp_path, "status", i["journeyId"])["output"]["charged"] for i in runs)
    assert outputs == [1, 2, 3]  # each run starts from the previous run's final context
    [binding] = cli_json_in(tmp_path, "schedules")
    assert (binding["runsExecuted"], binding["status"], binding["nextRun"]) == (3, "COMPLETED", None)
    assert "started" not in cli_in(tmp_path, "clock", "advance", "P7D").stdout


def test_on_existing_fail_upsert_and_add_another(tmp_path: Path) -> None:
    failing = start(tmp_path, billing(tmp_path))
    assert failing["phase"] == "SUCCEEDED"
    again = start(tmp_path, billing(tmp_path), code=1)
    assert again["error"]["code"] == "SCHEDULE_EXISTS"
    assert len(cli_json_in(tmp_path, "schedules")) == 1
    start(tmp_path, billing(tmp_path, "upsert", max_runs=5))
    [updated] = cli_json_in(tmp_path, "schedules")
    assert updated["maxRuns"] == 5
    start(tmp_path, billing(tmp_path, "addAnother"))
    assert len(cli_json_in(tmp_path, "schedules")) == 2
    start(tmp_path, billing(tmp_path), user="u2")  # another subject: another identity key
    assert len(cli_json_in(tmp_path, "schedules")) == 3


def test_cancel_stops_further_runs(tmp_path: Path) -> None:
    cli_in(tmp_path, "clock", "set", "2030-01-01T00:00:00Z")
    start(tmp_path, billing(tmp_path))
    cli_in(tmp_path, "clock", "advance", "PT13H")
    [binding] = cli_json_in(tmp_path, "schedules")
    assert binding["runsExecuted"] == 1
    cancelled = cli_json_in(tmp_path, "schedules", "cancel", binding["id"][:8])
    assert cancelled["status"] == "CANCELLED" and cancelled["changed"] is True
    assert "started" not in cli_in(tmp_path, "clock", "advance", "P7D").stdout
    assert "already CANCELLED" in cli_in(tmp_path, "schedules", "cancel", binding["id"]).stdout
    cli_in(tmp_path, "schedules", "cancel", "sch-nope", code=1)
    assert "no schedule bindings" in run_jctl("schedules", cwd=tmp_path,
                                              env={"JCTL_DB": str(tmp_path / "other.db")}).stdout
