"""End-to-end tests of the runner commands through the real CLI in subprocesses: run, signal, status, list,
history, cancel, clock, tick and worker, plus SIGKILL recovery and several processes on one store."""

from __future__ import annotations

import collections
import contextlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import CASES, REPO, run_jctl

RUNNER_CASES = CASES / "runner"
EXAMPLES = REPO / "specs" / "examples"
APPROVAL = RUNNER_CASES / "approval.journey.yaml"
SLEEPER = RUNNER_CASES / "sleeper.journey.yaml"
CARD = EXAMPLES / "card-activation" / "card-activation.journey.yaml"
CARD_MOCKS = EXAMPLES / "card-activation" / "card-activation.mocks.yaml"
REPORT = EXAMPLES / "report-export" / "report-export.journey.yaml"
REPORT_MOCKS = EXAMPLES / "report-export" / "report-export.mocks.yaml"
CARD_INPUT = '{"cardId": "card-1", "customerId": "cust-1"}'


# -- helpers ------------------------------------------------------------------------------------------------------


def jctl(*args: str, db: Path | None, cwd: Path, stdin: str | None = None, env: dict[str, str] | None = None,
         code: int | None = None) -> subprocess.CompletedProcess[str]:
    """Run jctl against `db` (through JCTL_DB); never a traceback; optionally check the exit code."""
    environment = {"JCTL_DB": str(db)} if db is not None else {}
    environment.update(env or {})
    result = run_jctl(*args, cwd=cwd, stdin=stdin, env=environment)
    assert "Traceback" not in result.stdout + result.stderr, result.stdout + result.stderr
    if code is not None:
        shown = f"jctl {' '.join(args)} -> {result.returncode}\n{result.stdout}{result.stderr}"
        assert result.returncode == code, shown
    return result


def as_json(result: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(result.stdout)


class Store:
    """One store file and a working directory, with shortcuts for the commands the tests repeat."""

    def __init__(self, directory: Path):
        self.cwd = directory
        self.db = directory / "jctl.db"

    def __call__(self, *args: str, stdin: str | None = None, code: int | None = None,
                 env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return jctl(*args, db=self.db, cwd=self.cwd, stdin=stdin, code=code, env=env)

    def run(self, spec: Path, input_json: str, *extra: str, code: int = 0) -> dict[str, Any]:
        return as_json(self("run", str(spec), "--input", input_json, "--format", "json", *extra, code=code))

    def status(self, instance_id: str) -> dict[str, Any]:
        return as_json(self("status", instance_id, "-f", "json", code=0))

    def history(self, instance_id: str) -> list[dict[str, Any]]:
        return as_json(self("history", instance_id, "-f", "json", code=0))

    def ids(self) -> list[str]:
        return [row["journeyId"] for row in as_json(self("list", "--limit", "1000", "-f", "json", code=0))]

    def popen(self, *args: str) -> subprocess.Popen[str]:
        environment = dict(os.environ, PYTHONPATH=str(REPO), NO_COLOR="1", COLUMNS="200", JCTL_DB=str(self.db))
        return subprocess.Popen([sys.executable, "-m", "jctl", *args], cwd=self.cwd, env=environment, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def events_of(history: list[dict[str, Any]], kind: str, state: str | None = None) -> list[dict[str, Any]]:
    return [e for e in history if e["type"] == kind and (state is None or e["state"] == state)]


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Store:
    """A store for tests that never move its clock (so they cannot fire each other's timers)."""
    return Store(tmp_path_factory.mktemp("shared"))


@pytest.fixture
def own(tmp_path: Path) -> Store:
    return Store(tmp_path)


def start_approval(store: Store, order: str = "o-1") -> str:
    """An approval instance waiting at askApproval: setup for the tests of other commands, so it is started
    in-process by the runner `jctl run` drives (whose own contract the run tests check as a subprocess)."""
    from jctl.engine.runner import Runner
    from jctl.limits import Limits
    from jctl.store.db import Store as Db

    with Db.open(store.db) as db:
        status = Runner(db, data_limits=Limits.load(store.cwd)).start(APPROVAL, {"orderId": order})
    assert status["phase"] == "RUNNING" and status["currentState"] == "askApproval"
    return status["journeyId"]


# -- run ----------------------------------------------------------------------------------------------------------


def test_run_takes_input_inline_from_a_file_and_from_stdin(shared: Store, tmp_path: Path):
    given = {"orderId": "o-file", "amount": 12.5}
    (tmp_path / "input.json").write_text(json.dumps(given))
    sources = [("--input", '{"orderId": "o-inline"}', None), ("--input", f"@{tmp_path / 'input.json'}", None),
               ("-i", "-", '{"orderId": "o-stdin"}')]
    expected = [{"orderId": "o-inline"}, given, {"orderId": "o-stdin"}]
    for (flag, value, stdin), wanted in zip(sources, expected):
        status = as_json(shared("run", str(APPROVAL), flag, value, "-f", "json", stdin=stdin, code=0))
        assert status["phase"] == "RUNNING" and status["currentState"] == "askApproval"
        links = status["_links"]
        assert links["askApproval"] == {"href": f"/api/v1/journeys/{status['journeyId']}/steps/askApproval",
                                        "method": "POST"}
        assert {"self", "result", "cancel"} <= set(links)
        started = events_of(shared.history(status["journeyId"]), "journey.started")
        assert [e["data"]["input"] for e in started] == [wanted]


def test_run_text_output_names_the_state_and_the_next_command(shared: Store):
    result = shared("run", str(APPROVAL), "--input", '{"orderId": "o-text"}', code=0)
    lines = result.stdout.splitlines()
    assert lines[0].startswith("RUNNING") and "approval" in lines[0]
    assert re.search(r"currentState\s+askApproval", result.stdout)
    assert re.search(r"next\s+jctl signal [0-9a-f]{8} --step askApproval", result.stdout)


def test_run_to_success_mirrors_output_status_and_redacts_auth_headers(shared: Store, tmp_path: Path):
    spec = tmp_path / "counter.journey.yaml"
    spec.write_text((RUNNER_CASES / "counter.journey.yaml.tmpl").read_text().replace(
        "__BASE__", "https://counter.example.com"))
    outcome = shared.run(spec, '{"rounds": 3}', "--mocks", str(RUNNER_CASES / "counter.mocks.yaml"))
    assert outcome["phase"] == "SUCCEEDED"
    assert outcome["status"] == outcome["output"]["status"] == "COUNTED"
    assert outcome["output"]["count"] == 3 and "error" not in outcome
    assert outcome["_links"]["self"]["href"].endswith("/result")
    history = shared.history(outcome["journeyId"])
    calls = [e["data"]["http"] for e in events_of(history, "state.completed", "call")]
    assert [c["url"] for c in calls] == [f"https://counter.example.com/rounds/{n}" for n in range(3)]
    assert all(c["headers"]["Authorization"] == "***" for c in calls)
    text = shared("history", outcome["journeyId"][:10], code=0).stdout
    assert "secret-token" not in text and "secret-token" not in json.dumps(history)


def test_run_that_fails_exits_1_with_a_journey_outcome(shared: Store):
    outcome = shared.run(CARD, CARD_INPUT, "--mocks", str(RUNNER_CASES / "issuer-down.mocks.yaml"), code=1)
    assert outcome["phase"] == "FAILED" and outcome["output"] is None
    assert outcome["status"] == "ISSUER_UNAVAILABLE"
    assert outcome["error"] == {"code": "ISSUER_UNAVAILABLE",
                                "reason": "The issuer did not accept the activation code request"}
    text = shared("run", str(CARD), "-i", CARD_INPUT, "--mocks", str(RUNNER_CASES / "issuer-down.mocks.yaml"),
                  code=1).stdout
    assert text.startswith("FAILED") and "ISSUER_UNAVAILABLE" in text


def test_invalid_spec_is_refused_with_located_diagnostics_and_nothing_created(shared: Store):
    before = shared.ids()
    result = shared("run", str(RUNNER_CASES / "broken.journey.yaml"), code=1)
    assert re.search(r"broken\.journey\.yaml:18:13: .*nowhere.*\[unknown-state\]", result.stderr), result.stderr
    assert "jctl validate" in result.stderr
    assert shared.ids() == before


def test_input_failing_the_input_schema_is_refused_and_nothing_created(shared: Store):
    before = shared.ids()
    result = shared("run", str(APPROVAL), "--input", '{"amount": -3, "colour": "red"}', code=2)
    assert "spec.input.schema" in result.stderr and "no instance was created" in result.stderr
    for violation in ("'orderId' is a required property", "amount", "'colour' was unexpected"):
        assert violation in result.stderr
    result = shared("run", str(APPROVAL), "--input", "[1, 2]", code=2)
    assert "must be a JSON object" in result.stderr
    assert shared.ids() == before


def test_malformed_or_unreadable_input_is_a_usage_error_and_nothing_created(shared: Store, tmp_path: Path):
    before = shared.ids()
    result = shared("run", str(APPROVAL), "--input", '{"orderId": ', code=2)
    assert "--input:1:13: input is not valid JSON" in result.stderr and "hint:" in result.stderr
    result = shared("run", str(APPROVAL), "--input", "-", stdin="not json", code=2)
    assert "stdin:1:1: input is not valid JSON" in result.stderr
    result = shared("run", str(APPROVAL), "--input", f"@{tmp_path / 'missing.json'}", code=2)
    assert "cannot read input file" in result.stderr
    result = shared("run", str(tmp_path / "missing.journey.yaml"), code=2)
    assert "no such file" in result.stderr
    assert "Usage:" in shared("run", code=2).stderr
    assert shared("run", str(APPROVAL), "--format", "xml", code=2).stderr
    assert shared.ids() == before


def test_detach_returns_a_start_response_and_tick_runs_the_instance(own: Store):
    started = own.run(APPROVAL, '{"orderId": "o-detached"}', "--detach")
    journey_id = started["journeyId"]
    assert set(started) == {"journeyId", "journeyName", "statusUrl", "_links"}
    assert started["statusUrl"] == f"/api/v1/journeys/{journey_id}" and set(started["_links"]) == {"self", "result"}
    status = own.status(journey_id)
    assert status["phase"] == "RUNNING" and "askApproval" not in status["_links"]  # not yet executed
    ticked = own("tick", code=0).stdout
    assert ticked.strip() == f"ran for approval {journey_id[:8]} -> askApproval"
    assert "askApproval" in own.status(journey_id)["_links"]
    assert own("tick", code=0).stdout.strip() == "nothing due"


def test_auto_advance_skips_timers_but_not_a_persons_answer(own: Store):
    outcome = own.run(REPORT, '{"reportType": "sales", "requestedBy": "ada"}', "--mocks", str(REPORT_MOCKS),
                      "--auto-advance")
    assert outcome["phase"] == "SUCCEEDED" and outcome["status"] == "REPORT_READY"
    assert outcome["output"]["downloadUrl"] == "https://reports.example.com/files/exp-1.csv"
    assert len(events_of(own.history(outcome["journeyId"]), "state.completed", "pollExport")) == 3

    paused = own.run(REPORT, '{"reportType": "sales", "requestedBy": "bob"}', "--mocks", str(REPORT_MOCKS))
    assert paused["phase"] == "RUNNING" and paused["currentState"] == "waitBeforePoll"
    assert own("tick", "--until-idle", code=0).stdout.strip() == "nothing due"  # the timer is a minute away
    fired = own("tick", "--auto-advance", code=0).stdout
    assert fired.count("fired timer waitBeforePoll") == 3
    assert own.status(paused["journeyId"])["status"] == "REPORT_READY"

    waiting = own.run(APPROVAL, '{"orderId": "o-auto"}', "--auto-advance")
    assert waiting["phase"] == "RUNNING" and waiting["currentState"] == "askApproval"  # timeout not skipped


# -- signal -------------------------------------------------------------------------------------------------------


def test_signal_payload_sources_inferred_step_projection_and_success(shared: Store, tmp_path: Path):
    journey_id = start_approval(shared, "o-signal")
    status = as_json(shared("signal", journey_id[:8], "--payload", '{"approved": false, "by": "ann"}', "-f", "json",
                            code=0))
    assert status["phase"] == "RUNNING" and status["currentState"] == "askApproval"
    assert (status["approved"], status["by"], status["status"]) == (False, "ann", "ORDER_PENDING")  # outputVar
    (tmp_path / "payload.json").write_text('{"approved": false}')
    status = as_json(shared("signal", journey_id, "--step", "askApproval", "--payload",
                            f"@{tmp_path / 'payload.json'}", "-f", "json", code=0))
    assert status["by"] == "nobody" and status["currentState"] == "askApproval"
    outcome = as_json(shared("signal", journey_id, "-p", "-", "-f", "json", stdin='{"approved": true, "by": "bob"}',
                             code=0))
    assert outcome["phase"] == "SUCCEEDED" and outcome["status"] == "ORDER_APPROVED"
    assert outcome["output"] == {"approved": True, "by": "bob", "status": "ORDER_APPROVED"}
    received = events_of(shared.history(journey_id), "signal.received", "askApproval")
    assert [e["data"]["payload"].get("by") for e in received] == ["ann", None, "bob"]


def test_payload_failing_the_step_schema_changes_nothing(shared: Store):
    journey_id = start_approval(shared, "o-invalid")
    history, status = shared.history(journey_id), shared.status(journey_id)
    result = shared("signal", journey_id, "--payload", '{"approved": "yes", "extra": 1}', code=1)
    assert "input.schema of step 'askApproval'" in result.stderr and "nothing changed" in result.stderr
    assert "'yes' is not of type 'boolean'" in result.stderr and "'extra' was unexpected" in result.stderr
    assert shared("signal", journey_id, "--payload", "{oops", code=2).stderr.count("not valid JSON") == 1
    assert shared.history(journey_id) == history and shared.status(journey_id) == status


def test_signal_to_an_inactive_step_or_a_finished_instance_is_refused(shared: Store):
    journey_id = start_approval(shared, "o-conflict")
    history = shared.history(journey_id)
    result = shared("signal", journey_id, "--step", "record", "--payload", '{"approved": true}', code=1)
    assert "step 'record' is not active" in result.stderr and "askApproval" in result.stderr
    assert shared.history(journey_id) == history
    shared("signal", journey_id, "--payload", '{"approved": true}', code=0)
    finished = shared.history(journey_id)
    result = shared("signal", journey_id, "--payload", '{"approved": true}', code=1)
    assert "already finished (SUCCEEDED)" in result.stderr
    assert shared.history(journey_id) == finished


def test_repeated_idempotency_key_replays_the_answer_with_one_effect(shared: Store):
    journey_id = start_approval(shared, "o-idem")
    first = shared("signal", journey_id, "--payload", '{"approved": false, "by": "ann"}', "--idempotency-key", "k-1",
                   "-f", "json", code=0)
    again = shared("signal", journey_id, "--payload", '{"approved": false, "by": "ann"}', "--idempotency-key", "k-1",
                   "-f", "json", code=0)
    assert again.stdout == first.stdout and as_json(first)["by"] == "ann"
    assert len(events_of(shared.history(journey_id), "signal.received")) == 1
    # the step is still open, so without the key the same payload would have been a second effect
    shared("signal", journey_id, "--payload", '{"approved": false}', code=0)
    assert len(events_of(shared.history(journey_id), "signal.received")) == 2


# -- status, list, history, cancel --------------------------------------------------------------------------------


def test_status_list_and_history_in_text_and_json(shared: Store):
    journey_id = start_approval(shared, "o-inspect")
    text = shared("status", journey_id[:12], code=0).stdout
    assert text.startswith("RUNNING  approval") and journey_id in text and "waitingFor" in text
    rows = as_json(shared("list", "--phase", "running", "--journey", "approval", "-f", "json", code=0))
    assert journey_id in [r["journeyId"] for r in rows]
    assert {(r["phase"], r["journeyName"]) for r in rows} == {("RUNNING", "approval")}
    assert all(r["phase"] == "FAILED" for r in as_json(shared("list", "--phase", "FAILED", "-f", "json", code=0)))
    assert journey_id[:12] in shared("list", code=0).stdout
    assert shared("list", "--journey", "no-such-journey", code=0).stdout.strip() == "no instances"
    assert "unknown phase `DONE`" in shared("list", "--phase", "DONE", code=2).stderr
    history = shared("history", journey_id, code=0).stdout
    assert "journey.started" in history and "step.waiting" in history
    assert [e["seq"] for e in shared.history(journey_id)] == [1, 2]


def test_unknown_ids_and_ambiguous_prefixes_get_clear_messages(shared: Store):
    for command in (["status"], ["history"], ["cancel"], ["signal", "--payload", "{}"]):
        result = shared(command[0], "zzzz", *command[1:], code=1)
        assert "no instance id starts with 'zzzz'" in result.stderr
    ids = shared.ids()
    while True:  # ids are uuid4 hex: 17 instances share a first character for sure
        by_first = collections.Counter(i[0] for i in ids)
        shared_prefix = next((c for c, n in by_first.items() if n > 1), None)
        if shared_prefix:
            break
        ids.append(start_approval(shared, "o-more"))
    for command in ("status", "history"):
        result = shared(command, shared_prefix, code=1)
        assert f"'{shared_prefix}' matches several instances" in result.stderr
        assert "give more characters" in result.stderr


def test_cancel_discards_due_work_and_is_idempotent(own: Store):
    running = own.run(CARD, CARD_INPUT, "--mocks", str(CARD_MOCKS))
    journey_id = running["journeyId"]
    assert running["currentState"] == "awaitIssuerCallback"
    assert as_json(own("clock", "-f", "json", code=0))["nextDueAt"] is not None  # the webhook timeout
    outcome = as_json(own("cancel", journey_id[:8], "-f", "json", code=0))
    assert outcome["phase"] == "FAILED" and outcome["error"]["code"] == "JOURNEY_CANCELLED"
    assert outcome["status"] == "JOURNEY_CANCELLED"
    assert as_json(own("clock", "-f", "json", code=0))["nextDueAt"] is None
    history = own.history(journey_id)
    again = own("cancel", journey_id, code=0).stdout
    assert again.startswith("FAILED") and "JOURNEY_CANCELLED" in again
    assert own.history(journey_id) == history
    assert own("clock", "advance", "PT1H", code=0).stdout.strip() == "nothing due"
    assert not events_of(own.history(journey_id), "state.completed", "notifyExpired")
    assert "already finished" in own("signal", journey_id, "--payload", '{"cardId": "card-1", "result": "ACTIVATED"}',
                                     code=1).stderr


def test_cancel_is_refused_when_the_journey_is_not_cancellable(shared: Store, tmp_path: Path):
    spec = tmp_path / "approval.journey.yaml"
    spec.write_text(APPROVAL.read_text().replace("spec:\n", "spec:\n  lifecycle:\n    cancellable: false\n", 1))
    status = shared.run(spec, '{"orderId": "o-keep"}')
    assert "cancel" not in status["_links"] and "askApproval" in status["_links"]
    history = shared.history(status["journeyId"])
    result = shared("cancel", status["journeyId"], code=1)
    assert "cancellable: false" in result.stderr and "cannot be cancelled" in result.stderr
    assert shared.history(status["journeyId"]) == history


def test_parallel_webhook_step_is_linked_inferred_and_raced_by_its_timer(own: Store):
    spec, mocks = EXAMPLES / "identity-check" / "identity-check.journey.yaml", EXAMPLES / "identity-check" / \
        "identity-check.mocks.yaml"
    racing = own.run(spec, '{"applicantId": "a-1"}', "--mocks", str(mocks))
    assert racing["currentState"] == "primaryOrSla" and racing["activeSteps"] == ["awaitPrimaryResult"]
    assert racing["_links"]["awaitPrimaryResult"]["href"].endswith("/steps/awaitPrimaryResult")
    late = own.run(spec, '{"applicantId": "a-2"}', "--mocks", str(mocks))["journeyId"]
    outcome = as_json(own("signal", racing["journeyId"], "-p", '{"verdict": "PASS"}', "-f", "json", code=0))
    assert outcome["status"] == "IDENTITY_VERIFIED" and outcome["output"]["source"] == "primary"
    fired = own("clock", "advance", "PT10M", code=0).stdout
    assert fired.strip() == f"fired timer primarySla for identity-check {late[:8]} -> SUCCEEDED"
    assert own.status(late)["output"] == {"status": "IDENTITY_VERIFIED", "source": "fallback"}
    assert "already finished" in own("signal", late, "-p", '{"verdict": "PASS"}', code=1).stderr


# -- the simulated clock ------------------------------------------------------------------------------------------


def test_clock_shows_the_time_and_only_moves_forward(own: Store):
    own.run(APPROVAL, '{"orderId": "o-clock"}')
    now = as_json(own("clock", "-f", "json", code=0))["now"]
    text = own("clock", code=0).stdout
    assert text.startswith(f"clock {now}") and "next due" in text
    result = own("clock", "set", "2001-01-01T00:00:00Z")
    assert result.returncode in (1, 2) and "can only move forward" in result.stderr
    assert as_json(own("clock", "-f", "json", code=0))["now"] == now
    assert "not an RFC 3339 timestamp" in own("clock", "set", "tomorrow", code=2).stderr
    assert "months or years" in own("clock", "advance", "P1M", code=2).stderr
    assert "not an ISO-8601 duration" in own("clock", "advance", "soon", code=2).stderr
    assert as_json(own("clock", "-f", "json", code=0))["now"] == now
    year = int(now[:4]) + 1
    assert "timed out step askApproval" in own("clock", "set", f"{year}-01-01T00:00:00Z", code=0).stdout
    assert as_json(own("clock", "-f", "json", code=0)) == {"now": f"{year}-01-01T00:00:00.000Z", "nextDueAt": None}


def test_clock_advance_fires_due_timers_in_due_order(own: Store):
    ids = {}
    for label, delay in (("third", "PT3M"), ("first", "PT1M"), ("later", "PT10M"), ("second", "PT2M")):
        status = own.run(SLEEPER, json.dumps({"delay": delay, "label": label}))
        assert status["currentState"] == "nap"
        ids[label] = status["journeyId"]
    assert own("clock", "advance", "PT30S", code=0).stdout.strip() == "nothing due"
    fired = own("clock", "advance", "PT5M", code=0).stdout.splitlines()
    assert fired == [f"fired timer nap for sleeper {ids[label][:8]} -> SUCCEEDED"
                     for label in ("first", "second", "third")]
    assert own.status(ids["second"])["output"] == {"status": "WOKE", "label": "second"}
    assert own.status(ids["later"])["phase"] == "RUNNING"
    assert "next due" in own("clock", code=0).stdout


def test_step_timeout_fires_on_the_simulated_clock(own: Store):
    journey_id = own.run(CARD, CARD_INPUT, "--mocks", str(CARD_MOCKS))["journeyId"]
    assert own("clock", "advance", "PT14M59S", code=0).stdout.strip() == "nothing due"
    assert own.status(journey_id)["phase"] == "RUNNING"
    fired = own("clock", "advance", "PT1S", code=0).stdout
    assert fired.strip() == f"timed out step awaitIssuerCallback for card-activation {journey_id[:8]} -> FAILED"
    outcome = own.status(journey_id)
    assert outcome["error"]["code"] == "CARD_ACTIVATION_EXPIRED"
    expire = events_of(own.history(journey_id), "state.completed", "notifyExpired")
    assert expire[0]["data"]["http"]["url"].endswith("/cards/card-1/activation-codes/expire")


def test_tick_runs_what_is_due_and_an_already_due_timer_fires_in_the_same_call(own: Store):
    one = own.run(SLEEPER, '{"delay": "PT0S"}', "--detach")["journeyId"]
    assert own("tick", code=0).stdout.strip() == f"ran for sleeper {one[:8]} -> SUCCEEDED"
    fired = [e for e in own.history(one) if e["type"] == "timer.fired"]
    assert fired[0]["data"]["alreadyDue"] is True
    past = own.run(SLEEPER, '{"delay": "PT0S"}')
    assert past["phase"] == "SUCCEEDED" and past["output"]["status"] == "WOKE"  # within `run` itself
    waiting = own.run(SLEEPER, '{"delay": "PT1M"}')["journeyId"]
    assert own("tick", "--until-idle", code=0).stdout.strip() == "nothing due"
    assert own.status(waiting)["currentState"] == "nap"


# -- where the store lives, colour ---------------------------------------------------------------------------------


def test_db_flag_env_var_and_default_location(tmp_path: Path):
    flagged = as_json(jctl("run", str(APPROVAL), "-i", '{"orderId": "a"}', "-f", "json", "--db", "a.db", db=None,
                           cwd=tmp_path, code=0))["journeyId"]
    from_env = as_json(jctl("run", str(APPROVAL), "-i", '{"orderId": "b"}', "-f", "json", db=tmp_path / "b.db",
                            cwd=tmp_path, code=0))["journeyId"]
    default = as_json(jctl("run", str(APPROVAL), "-i", '{"orderId": "c"}', "-f", "json", db=None, cwd=tmp_path,
                           code=0))["journeyId"]
    assert (tmp_path / "a.db").is_file() and (tmp_path / "b.db").is_file()
    assert (tmp_path / ".jctl" / "jctl.db").is_file()

    def listed(*args: str, db: Path | None = None) -> list[str]:
        rows = as_json(jctl("list", "-f", "json", *args, db=db, cwd=tmp_path, code=0))
        return [r["journeyId"] for r in rows]

    assert listed("--db", "a.db") == [flagged]
    assert listed(db=tmp_path / "b.db") == [from_env]
    assert listed() == [default]
    assert listed("--db", "a.db", db=tmp_path / "b.db") == [flagged]  # the flag wins over the variable
    assert "nothing due" in jctl("clock", "--db", "a.db", "advance", "PT1S", db=None, cwd=tmp_path, code=0).stdout


def test_no_color_output_has_no_escape_codes(own: Store):
    journey_id = start_approval(own, "o-colour")
    forced = {"FORCE_COLOR": "1", "TERM": "xterm-256color"}
    commands = [("status", journey_id), ("list",), ("history", journey_id), ("clock",), ("status", "zzzz"),
                ("run", str(RUNNER_CASES / "broken.journey.yaml")), ("signal", journey_id, "-p", '{"approved": 1}')]
    for command in commands:
        result = own(*command, env={**forced, "NO_COLOR": "1"})
        assert result.stdout + result.stderr and "\x1b" not in result.stdout + result.stderr, command
    coloured = own("status", "zzzz", env={**forced, "NO_COLOR": ""})
    assert "\x1b[" in coloured.stderr  # the check above could fail: without NO_COLOR the error is styled


# -- crashes and concurrency ---------------------------------------------------------------------------------------


@pytest.fixture
def slow_service():
    from pytest_httpserver import HTTPServer
    from werkzeug import Request, Response

    server = HTTPServer(threaded=True)
    seen: list[str] = []  # request paths, with the Authorization header the service received

    def answer(request: Request) -> Response:
        seen.append(f"{request.path} {request.headers.get('Authorization')}")
        time.sleep(0.04)
        return Response('{"ok": true}', content_type="application/json")

    server.expect_request(re.compile(r"/rounds/\d+"), method="POST").respond_with_handler(answer)
    server.start()
    yield server, seen
    server.clear()
    if server.is_running():
        server.stop()


CRASH_SCENARIOS = {
    # name: (input, the commands killed in turn, the command that finishes the work)
    "transitions": ({}, [["run"], ["tick", "--until-idle"], ["tick", "--until-idle"]], ["tick", "--until-idle"]),
    "timers": ({"pause": "PT1M"}, [["run", "--auto-advance"], ["tick", "--auto-advance"], ["tick", "--auto-advance"]],
               ["tick", "--auto-advance"]),
}


@pytest.mark.parametrize("scenario", sorted(CRASH_SCENARIOS))
def test_sigkill_mid_run_resumes_without_duplicated_or_lost_transitions(own: Store, slow_service, scenario: str):
    server, seen = slow_service
    extra_input, killed_commands, finish = CRASH_SCENARIOS[scenario]
    rounds = 20
    start_input = json.dumps({"rounds": rounds, **extra_input})
    spec = own.cwd / "counter.journey.yaml"
    spec.write_text((RUNNER_CASES / "counter.journey.yaml.tmpl").read_text().replace(
        "__BASE__", server.url_for("").rstrip("/")))
    started_at = as_json(own("clock", "-f", "json", code=0))["now"]
    seed = random.randrange(1_000_000)
    rng = random.Random(seed)
    kills = 0
    for command in killed_commands:
        args = [*command, str(spec), "--input", start_input] if command[0] == "run" else command
        process = own.popen(*args)
        time.sleep(rng.uniform(0.35, 0.9))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.communicate(timeout=30)
        if command[0] == "run" and not own.ids():  # killed before the instance was created: nothing to resume
            own.run(spec, start_input, "--detach")
    print(f"{scenario}: seed {seed}, {kills} runner(s) killed")
    assert kills >= 1, f"no runner was killed mid-run (seed {seed}); the service is too fast for this test"
    own(*finish, code=0)  # a dead runner's lease names a dead pid: it is taken over at once

    (journey_id,) = own.ids()
    outcome = own.status(journey_id)
    assert outcome["phase"] == "SUCCEEDED" and outcome["output"] == {"status": "COUNTED", "count": rounds}, seed
    history = own.history(journey_id)
    assert [e["seq"] for e in history] == list(range(1, len(history) + 1)), seed
    entered = collections.Counter(e["state"] for e in history if e["type"] in ("state.completed", "timer.fired"))
    expected = {"setup": 1, "call": rounds, "bump": rounds, "more": rounds, "finish": 1}
    if extra_input:
        expected["breather"] = rounds - 1
        assert len(events_of(history, "timer.scheduled", "breather")) == rounds - 1, seed
    assert entered == expected, seed
    assert len(events_of(history, "journey.started")) == 1 and len(events_of(history, "journey.succeeded")) == 1
    calls = [e["data"]["http"]["url"] for e in events_of(history, "state.completed", "call")]
    assert calls == [server.url_for(f"/rounds/{n}") for n in range(rounds)], seed
    # at-least-once: a call in flight when its runner died is made again, nothing else is
    assert set(seen) == {f"/rounds/{n} Bearer secret-token-123" for n in range(rounds)}, (seed, seen)
    assert len(seen) <= rounds + kills, (seed, seen)
    if extra_input:  # auto-advance skipped exactly one minute per pause: no timer fired twice or was lost
        from datetime import datetime

        clock = as_json(own("clock", "-f", "json", code=0))
        elapsed = datetime.fromisoformat(clock["now"]) - datetime.fromisoformat(started_at)
        assert elapsed.total_seconds() == 60 * (rounds - 1) and clock["nextDueAt"] is None, seed


def test_two_concurrent_signals_exactly_one_wins(own: Store):
    for attempt in range(3):
        journey_id = start_approval(own, f"o-race-{attempt}")
        racers = [own.popen("signal", journey_id, "--payload", json.dumps({"approved": True, "by": name}))
                  for name in ("ann", "bob")]
        results = [(p.wait(timeout=60), *p.communicate()) for p in racers]
        assert sorted(code for code, _, _ in results) == [0, 1], results
        (loser_err,) = [err for code, _, err in results if code == 1]
        assert loser_err.startswith("error: ") and "Traceback" not in loser_err and "locked" not in loser_err
        refusals = ("already finished", "another jctl process", "no step is waiting for input")
        assert any(refusal in loser_err for refusal in refusals), loser_err
        history = own.history(journey_id)
        assert len(events_of(history, "signal.received")) == 1
        assert [e["seq"] for e in history] == list(range(1, len(history) + 1))


def test_concurrent_signals_with_one_idempotency_key_have_one_effect(own: Store):
    payload = json.dumps({"approved": False, "by": "ann"})
    for offset in (0.0, 0.02, 0.035, 0.05, 0.08):  # the second process starts while the first checks, drives, commits
        journey_id = start_approval(own, f"o-key-{offset}")
        first = own.popen("signal", journey_id, "-p", payload, "--idempotency-key", "k", "-f", "json")
        time.sleep(offset)
        second = own.popen("signal", journey_id, "-p", payload, "--idempotency-key", "k", "-f", "json")
        results = [(p.wait(timeout=60), *p.communicate()) for p in (first, second)]
        assert len(events_of(own.history(journey_id), "signal.received")) == 1, (offset, results)
        # the retry waits for the first delivery and replays its answer: both succeed with the same body
        assert [code for code, _, _ in results] == [0, 0], (offset, results)
        answers = {out for _, out, _ in results}
        assert len(answers) == 1 and json.loads(answers.pop())["by"] == "ann", (offset, results)


def test_concurrent_ticks_run_each_due_item_once(own: Store):
    starts = [own.popen("run", str(SLEEPER), "-i", '{"delay": "PT0S"}', "--detach", "-f", "json") for _ in range(8)]
    assert all(p.wait(timeout=60) == 0 for p in starts)
    for p in starts:
        p.communicate()
    ticks = [own.popen("tick", "--until-idle") for _ in range(3)]
    outputs = [(p.wait(timeout=60), *p.communicate()) for p in ticks]
    assert all(code == 0 and not err.strip() for code, _, err in outputs), outputs
    # a process that read the due list before another ran an item reports it as stale; only one runs it
    lines = [line for _, out, _ in outputs for line in out.splitlines() if line.startswith(("ran ", "fired "))]
    assert len(lines) == len(set(lines)) == 8, outputs  # one run per instance (its PT0S timer fires within it)
    for journey_id in own.ids():
        history = own.history(journey_id)
        steps = [(e["type"], e["state"]) for e in history]
        assert len(steps) == len(set(steps)) and steps[-1] == ("journey.succeeded", "done"), steps
        assert [e["seq"] for e in history] == list(range(1, len(history) + 1))


def test_many_concurrent_runs_on_one_store_all_succeed(own: Store):
    runs = [own.popen("run", str(APPROVAL), "-i", json.dumps({"orderId": f"o-{n}"}), "-f", "json")
            for n in range(10)]
    results = [(p.wait(timeout=90), *p.communicate()) for p in runs]
    for code, out, err in results:
        assert code == 0 and "Traceback" not in err and "locked" not in err, err
    started = {json.loads(out)["journeyId"] for _, out, _ in results}
    assert len(started) == 10 and set(own.ids()) == started
    assert all(own.status(i)["currentState"] == "askApproval" for i in list(started)[:3])


def test_worker_fires_a_due_timer_in_wall_time_and_stops_on_sigint(own: Store):
    journey_id = own.run(SLEEPER, '{"delay": "PT2S", "label": "worker"}')["journeyId"]
    worker = own.popen("worker", "--interval", "0.2")
    try:
        deadline = time.monotonic() + 20
        while own.status(journey_id)["phase"] == "RUNNING" and time.monotonic() < deadline:
            time.sleep(0.3)
        assert own.status(journey_id)["output"] == {"status": "WOKE", "label": "worker"}
    finally:
        worker.send_signal(signal.SIGINT)
        out, err = worker.communicate(timeout=20)
    assert worker.returncode in (0, 130), err
    assert "Traceback" not in out + err
    assert "worker started" in out and f"fired timer nap for sleeper {journey_id[:8]} -> SUCCEEDED" in out
    assert "worker stopped" in out


def test_sigint_to_a_busy_worker_leaves_a_consistent_resumable_instance(own: Store, slow_service):
    server, seen = slow_service
    spec = own.cwd / "counter.journey.yaml"
    spec.write_text((RUNNER_CASES / "counter.journey.yaml.tmpl").read_text().replace(
        "__BASE__", server.url_for("").rstrip("/")))
    journey_id = own.run(spec, '{"rounds": 40}', "--detach")["journeyId"]  # >= 1.6 s of calls
    worker = own.popen("worker", "--interval", "0.1")
    deadline = time.monotonic() + 60
    while len(seen) < 5 and time.monotonic() < deadline:  # the worker is mid-way through the rounds
        time.sleep(0.01)
    worker.send_signal(signal.SIGINT)
    out, err = worker.communicate(timeout=30)
    assert worker.returncode in (0, 130) and "Traceback" not in out + err, err
    assert own.status(journey_id)["phase"] == "RUNNING"  # it stopped between transitions, not at the end
    calls_before = len(events_of(own.history(journey_id), "state.completed", "call"))
    assert calls_before < 40
    own("tick", "--until-idle", code=0)
    assert own.status(journey_id)["output"] == {"status": "COUNTED", "count": 40}
    history = own.history(journey_id)
    assert [e["seq"] for e in history] == list(range(1, len(history) + 1))
    assert len(events_of(history, "state.completed", "call")) == 40


def test_a_file_that_is_not_a_store_is_reported_not_an_internal_error(tmp_path: Path):
    not_a_store = tmp_path / "notes.db"
    not_a_store.write_text("these are notes, not a SQLite database\n" * 20)
    for command in (["status", "abc"], ["list"], ["history", "abc"], ["clock"], ["tick"],
                    ["run", str(APPROVAL), "-i", '{"orderId": "o-1"}']):
        result = jctl(*command, db=not_a_store, cwd=tmp_path, code=1)
        assert "is not a usable jctl store" in result.stderr and "internal error" not in result.stderr, command
    assert not_a_store.read_text().startswith("these are notes")  # left as it was


# -- hostile values (QA pass) -------------------------------------------------------------------------------------


def test_nan_and_infinity_in_input_or_payload_are_refused_and_change_nothing(shared: Store, tmp_path: Path):
    """Python's json takes NaN, Infinity and 1e999; stored, they made every later `--format json` invalid."""
    before = shared.ids()
    for bad in ('{"orderId": NaN}', '{"orderId": "o", "n": Infinity}', '{"orderId": "o", "n": -1e999}'):
        result = shared("run", str(APPROVAL), "--input", bad, code=2)
        assert "NaN or Infinity" in result.stderr, bad
    (tmp_path / "start.yaml").write_text("orderId: o\nn: .inf\n")
    assert "NaN or Infinity" in shared("run", str(APPROVAL), "--input", f"@{tmp_path / 'start.yaml'}",
                                       code=2).stderr
    assert shared.ids() == before
    journey_id = start_approval(shared, "o-nan")
    history = shared.history(journey_id)
    result = shared("signal", journey_id, "--payload", '{"approved": NaN}', code=2)
    assert "NaN or Infinity" in result.stderr
    assert shared.history(journey_id) == history
    json.loads(shared("history", journey_id, "-f", "json", code=0).stdout, parse_constant=pytest.fail)


def test_out_of_range_limits_durations_and_clock_ends_are_usage_errors(own: Store):
    assert "not in the range" in own("list", "--limit", "99999999999999999999999", code=2).stderr
    assert "not in the range" in own("list", "--limit", "-1", code=2).stderr
    now = as_json(own("clock", "-f", "json", code=0))["now"]
    assert "longest duration" in own("clock", "advance", "PT99999999999999999999S", code=2).stderr
    assert "latest time jctl can represent" in own("clock", "advance", "P999999999D", code=2).stderr
    assert as_json(own("clock", "-f", "json", code=0))["now"] == now
    # at the end of time the store stays usable: moves past it are refused, and a step timeout that would land
    # past it fails that instance with a message instead of an internal error
    own("clock", "set", "9999-12-31T23:55:00Z", code=0)  # the approval step times out after 10 minutes
    assert "latest time jctl can represent" in own("clock", "advance", "PT10M", code=2).stderr
    outcome = own.run(APPROVAL, '{"orderId": "o-end"}', code=1)
    assert outcome["error"]["code"] == "INVALID_TIMEOUT" and "latest time" in outcome["error"]["reason"]
    own("tick", "--auto-advance", code=0)


def test_worker_interval_out_of_range_is_a_usage_error(own: Store):
    for interval in ("-1", "nan", "inf"):
        assert "--interval" in own("worker", "--interval", interval, code=2).stderr, interval


def test_worker_reads_its_secrets_and_plugin_config_files_before_it_starts(own: Store):
    missing = str(own.cwd / "absent.yaml")
    assert "absent.yaml" in own("worker", "--secrets", missing, code=2).stderr
    assert "plugin config" in own("worker", "--plugin-config", missing, code=2).stderr


def test_an_sqlite_database_of_another_program_is_refused_and_left_untouched(tmp_path: Path):
    import sqlite3

    foreign = tmp_path / "app.db"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER)")
    before = foreign.read_bytes()
    for command in (["list"], ["clock"], ["tick"], ["run", str(APPROVAL), "-i", '{"orderId": "o-1"}']):
        result = jctl(*command, db=foreign, cwd=tmp_path, code=1)
        assert "is not a usable jctl store" in result.stderr and "customers" in result.stderr, command
    assert foreign.read_bytes() == before  # no jctl tables, not even WAL mode
    assert not Path(f"{foreign}-wal").exists()


def test_run_of_a_path_that_is_not_a_regular_file_says_so(own: Store, tmp_path: Path):
    os.mkfifo(tmp_path / "pipe.journey.yaml")
    assert "not a regular file" in own("run", str(tmp_path / "pipe.journey.yaml"), code=2).stderr
    assert "not a regular file" in own("run", str(tmp_path), code=2).stderr


def test_lone_surrogates_and_non_utf8_arguments_are_usage_errors(shared: Store):
    before = shared.ids()
    result = shared("run", str(APPROVAL), "--input", '{"orderId": "\\ud800"}', code=2)
    assert "lone UTF-16 surrogate" in result.stderr
    journey_id = start_approval(shared, "o-bytes")
    history = shared.history(journey_id)
    not_utf8 = "\udcff"  # how Python hands over the byte 0xff of an argument
    for command in (["status", not_utf8], ["history", not_utf8], ["cancel", not_utf8], ["list", "--journey", not_utf8],
                    ["signal", journey_id, "-p", '{"approved": true}', "--step", not_utf8],
                    ["signal", journey_id, "-p", '{"approved": true}', "--idempotency-key", not_utf8],
                    ["run", str(APPROVAL), "-i", '{"orderId": "o"}', "--seed", not_utf8]):
        assert "is not valid UTF-8 text" in shared(*command, code=2).stderr, command
    assert shared.history(journey_id) == history
    assert set(shared.ids()) == set(before) | {journey_id}


def test_text_output_shows_unicode_as_is_and_a_detached_start_is_labelled(own: Store):
    result = own("run", str(APPROVAL), "--input", '{"orderId": "ордер-😀"}', code=0)
    assert result.stdout.startswith("RUNNING")
    journey_id = as_json(own("list", "-f", "json", code=0))[0]["journeyId"]
    assert "ордер-😀" in own("history", journey_id, code=0).stdout
    assert own("run", str(APPROVAL), "--input", '{"orderId": "o"}', "--detach", code=0).stdout.startswith("STARTED")


def test_deeply_nested_payload_is_a_usage_error_not_a_recursion_error(shared: Store, tmp_path: Path):
    journey_id = start_approval(shared, "o-deep")
    history = shared.history(journey_id)
    for depth in (300, 100_000):  # past our limit, and past Python's own recursion limit
        (tmp_path / "deep.json").write_text("[" * depth + "]" * depth)
        result = shared("signal", journey_id, "--payload", f"@{tmp_path / 'deep.json'}", code=2)
        assert "nested deeper than 256 levels" in result.stderr
    assert shared.history(journey_id) == history


def test_a_mistyped_clock_argument_creates_no_store(tmp_path: Path):
    for command in (["clock", "advance", "soon"], ["clock", "set", "tomorrow"]):
        result = run_jctl(*command, cwd=tmp_path)
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert not (tmp_path / ".jctl").exists()


def wait_for_event(db: Path, journey_id: str, kind: str, process: subprocess.Popen[str]) -> None:
    """Poll the store file (read-only) until the instance has an event of `kind` or the process has ended."""
    import sqlite3

    while process.poll() is None:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)) as conn:
            if conn.execute("SELECT 1 FROM events WHERE instance_id = ? AND type = ?", (journey_id, kind)).fetchone():
                return
        time.sleep(0.005)


def test_sigkill_after_signal_received_never_applies_a_keyed_signal_twice(own: Store, slow_service):
    """The key is committed with `signal.received`: a retry during the interrupted drive finishes it and replays,
    a retry after `tick` finished it replays, and neither applies the payload a second time."""
    server, _ = slow_service
    spec = own.cwd / "tally.journey.yaml"
    spec.write_text((RUNNER_CASES / "tally.journey.yaml.tmpl").read_text().replace(
        "__BASE__", server.url_for("").rstrip("/")))
    seed = random.randrange(1_000_000)
    rng = random.Random(seed)
    landed = 0
    for attempt in range(4):
        journey_id = own.run(spec, '{"rounds": 12}')["journeyId"]
        process = own.popen("signal", journey_id, "-p", '{"add": 5}', "--idempotency-key", "K", "-f", "json")
        wait_for_event(own.db, journey_id, "signal.received", process)
        time.sleep(rng.uniform(0.0, 0.5))  # a random point of the drive (12 calls of 40 ms and their transitions)
        killed = process.poll() is None
        if killed:
            process.send_signal(signal.SIGKILL)
        process.communicate(timeout=30)
        received = events_of(own.history(journey_id), "signal.received")
        interrupted = killed and received and own.status(journey_id)["currentState"] != "ask"
        landed += bool(interrupted)
        retry_first = attempt % 2 == 0  # half the time the retry comes before any tick, half after
        if retry_first:
            retried = as_json(own("signal", journey_id, "-p", '{"add": 5}', "--idempotency-key", "K", "-f", "json",
                                  code=0))
        own("tick", "--until-idle", code=0)
        again = as_json(own("signal", journey_id, "-p", '{"add": 5}', "--idempotency-key", "K", "-f", "json", code=0))
        if retry_first:
            assert retried == again, seed
        history = own.history(journey_id)
        assert len(events_of(history, "signal.received")) == 1, (seed, attempt)
        assert [e["seq"] for e in history] == list(range(1, len(history) + 1)), seed
        assert len(events_of(history, "state.completed", "call")) == 12, (seed, attempt)
        status = own.status(journey_id)
        assert status["currentState"] == "ask" and again["currentState"] == "ask", (seed, status, again)
    print(f"seed {seed}: {landed} kill(s) between signal.received and the end of the drive")
    assert landed >= 1, f"no kill landed inside the drive (seed {seed})"


def test_run_with_an_idempotency_key_starts_once_and_replays_the_first_answer(own: Store):
    first = own.run(APPROVAL, '{"orderId": "o-k"}', "--idempotency-key", "start-1")
    again = own.run(APPROVAL, '{"orderId": "o-other"}', "--idempotency-key", "start-1")
    assert again == first and first["currentState"] == "askApproval"
    detached = own.run(APPROVAL, '{"orderId": "o-d"}', "--detach", "--idempotency-key", "start-2")
    assert own.run(APPROVAL, '{"orderId": "o-d"}', "--detach", "--idempotency-key", "start-2") == detached
    assert sorted(own.ids()) == sorted({first["journeyId"], detached["journeyId"]})
    # a signal key equal to the start key is a different key: it is applied
    signalled = as_json(own("signal", first["journeyId"], "-p", '{"approved": true}', "--idempotency-key", "start-1",
                            "-f", "json", code=0))
    assert signalled["phase"] == "SUCCEEDED"


def test_a_store_reached_through_a_hard_link_is_refused_before_any_write(tmp_path: Path):
    original = tmp_path / "a.db"
    jctl("run", str(APPROVAL), "-i", '{"orderId": "o-1"}', db=original, cwd=tmp_path, code=0)
    linked = tmp_path / "b.db"
    os.link(original, linked)
    before = original.read_bytes()
    for path in (original, linked):
        for command in (["run", str(APPROVAL), "-i", '{"orderId": "o-2"}'], ["list"], ["tick"]):
            result = jctl(*command, db=path, cwd=tmp_path, code=1)
            assert "hard link" in result.stderr and "internal error" not in result.stderr, result.stderr
    assert original.read_bytes() == before and not (tmp_path / "b.db-wal").exists()


def test_huge_integers_and_duplicate_keys_in_input_or_payload_are_usage_errors(own: Store, tmp_path: Path):
    journey_id = start_approval(own, "o-digits")
    huge = "1" * 5000
    refused = [own("run", str(APPROVAL), "-i", f'{{"orderId": "o", "amount": {huge}}}', code=2),
               own("signal", journey_id, "-p", f'{{"approved": true, "by": {huge}}}', code=2)]
    assert all("digits" in result.stderr and "internal error" not in result.stderr for result in refused)
    duplicated = tmp_path / "dup.json"
    duplicated.write_text('{"orderId": "a",\n "orderId": "b"}')
    for result in (own("run", str(APPROVAL), "-i", f"@{duplicated}", code=2),
                   own("signal", journey_id, "-p", '{"approved": true, "approved": false}', code=2)):
        assert "duplicate key" in result.stderr, result.stderr
    assert own.ids() == [journey_id] and own.status(journey_id)["currentState"] == "askApproval"


def test_ids_with_the_last_code_point_or_non_bmp_characters_are_unknown_not_internal_errors(shared: Store):
    for odd in ("\U0010ffff", "ab\U0010ffff", "\U0001f600"):
        assert "no instance id starts with" in shared("status", odd, code=1).stderr


def test_a_damaged_instance_row_is_reported_and_the_others_still_served(own: Store):
    import sqlite3

    good = start_approval(own, "o-good")
    bad = own.run(SLEEPER, '{"delay": "PT1M"}')["journeyId"]
    with contextlib.closing(sqlite3.connect(own.db)) as conn, conn:
        conn.execute("UPDATE instances SET context = '{\"broken' WHERE id = ?", (bad,))
    listed = own("list", "-f", "json", code=0)
    assert [row["journeyId"] for row in json.loads(listed.stdout)] == [good]
    assert bad in listed.stderr and "damaged" in listed.stderr
    assert "damaged" in own("status", bad, code=1).stderr
    assert own.status(good)["currentState"] == "askApproval"
    advanced = own("clock", "advance", "PT2M", code=0)
    assert "damaged" in advanced.stdout + advanced.stderr
    assert own("history", bad, code=0).stdout
