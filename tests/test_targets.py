"""`--target URL` / JCTL_TARGET: instance commands over the Journeys API of a real `jctl serve`, with the same
envelopes and exit codes as against the local store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import run_jctl
from serving import free_port, running_server

from jctl.serve.engine import ServeSettings

REPO = Path(__file__).resolve().parents[1]
SPEC = REPO / "specs" / "examples" / "expense-approval" / "expense-approval.journey.yaml"
CLAIM = '{"claimId": "c-9", "amount": 10}'
VOLATILE = {"journeyId", "updatedAt", "_links", "createdAt", "at"}


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = ServeSettings(folders=[SPEC.parent], db=tmp_path_factory.mktemp("target") / "jctl.db",
                             simulated_clock=True, tick_interval_s=0.05)
    with running_server(settings) as base:
        yield base


def jctl_json(*args: str, env: dict[str, str] | None = None, code: int = 0) -> Any:
    done = run_jctl(*args, "--format", "json", env=env)
    assert done.returncode == code, done.stderr
    return json.loads(done.stdout)


def stable(document: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in document.items() if key not in VOLATILE}


def test_run_signal_status_history_list_match_the_local_store(target: str, tmp_path: Path) -> None:
    local_db = str(tmp_path / "local.db")
    remote = jctl_json("run", str(SPEC), "--input", CLAIM, "--target", target)
    local = jctl_json("run", str(SPEC), "--input", CLAIM, "--db", local_db)
    assert stable(remote) == stable(local) and remote["currentState"] == "awaitManagerDecision"
    journey_id = remote["journeyId"]

    payload = '{"decision": "APPROVE", "manager": "ann"}'
    signalled = jctl_json("signal", journey_id, "--payload", payload, env={"JCTL_TARGET": target})
    local_signalled = jctl_json("signal", local["journeyId"], "--payload", payload, "--db", local_db)
    assert stable(signalled) == stable(local_signalled) and signalled["phase"] == "SUCCEEDED"
    assert stable(jctl_json("status", journey_id, "--target", target)) == stable(signalled)

    history = jctl_json("history", journey_id, "--target", target)
    local_history = jctl_json("history", local["journeyId"], "--db", local_db)
    assert [(e["type"], e["state"]) for e in history] == [(e["type"], e["state"]) for e in local_history]
    rows = jctl_json("list", "--phase", "SUCCEEDED", "--target", target)
    assert journey_id in [row["journeyId"] for row in rows] and {row["phase"] for row in rows} == {"SUCCEEDED"}
    text = run_jctl("list", "--target", target)
    assert text.returncode == 0 and journey_id[:12] in text.stdout


def test_cancel_and_refusals_keep_the_local_exit_codes(target: str) -> None:
    journey_id = jctl_json("run", str(SPEC), "--input", CLAIM, "--target", target)["journeyId"]
    bad_payload = run_jctl("signal", journey_id, "--payload", '{"decision": "MAYBE"}', "--target", target)
    assert bad_payload.returncode == 1 and "decision" in bad_payload.stderr
    cancelled = jctl_json("cancel", journey_id, "--target", target)
    assert cancelled["phase"] == "FAILED" and cancelled["error"]["code"] == "JOURNEY_CANCELLED"
    late = run_jctl("signal", journey_id, "--payload", "{}", "--step", "awaitManagerDecision", "--target", target)
    assert late.returncode == 1
    bad_input = run_jctl("run", str(SPEC), "--input", '{"claimId": 3}', "--target", target)
    assert bad_input.returncode == 2 and "amount" in bad_input.stderr
    unknown = run_jctl("status", "feedface", "--target", target)
    assert unknown.returncode == 1 and "feedface" in unknown.stderr


@pytest.mark.parametrize(("url", "words"), [
    ("http://127.0.0.1:{port}", "cannot reach the target"),
    ("temporal://127.0.0.1:{port}/default", "cannot reach Temporal"),
    ("ftp://example.com", "not a URL jctl can drive"),
])
def test_unusable_targets_are_a_clear_usage_error(url: str, words: str) -> None:
    done = run_jctl("status", "abc", "--target", url.format(port=free_port()))  # a port nobody listens on
    assert done.returncode == 2 and words in done.stderr and "Traceback" not in done.stderr


def test_local_only_flags_are_refused_with_a_target(target: str) -> None:
    done = run_jctl("run", str(SPEC), "--input", CLAIM, "--detach", "--target", target)
    assert done.returncode == 2 and "--detach" in done.stderr


def test_list_and_history_tables_are_the_local_ones(target: str, tmp_path: Path) -> None:
    """The text tables come from one printer per view: only ids and times differ between a target and the store."""
    import re

    local_db = str(tmp_path / "local.db")
    remote_id = jctl_json("run", str(SPEC), "--input", CLAIM, "--target", target)["journeyId"]
    local_id = jctl_json("run", str(SPEC), "--input", CLAIM, "--db", local_db)["journeyId"]

    def table(*args: str) -> str:
        done = run_jctl(*args)
        assert done.returncode == 0, done.stderr
        text = done.stdout.replace(remote_id, "<id>").replace(local_id, "<id>")
        text = text.replace(remote_id[:12], "<id>").replace(local_id[:12], "<id>")
        return re.sub(r"\d{4}-\d\d-\d\dT[\d:.]+Z", "<at>", text)

    remote_history = table("history", remote_id, "--target", target)
    assert remote_history == table("history", local_id, "--db", local_db)
    assert "awaitManagerDecision" in remote_history and "<at>" in remote_history
    # the served store holds other tests' instances too, which may widen its columns: compare our row, spaced alike
    remote_rows = [" ".join(line.split()) for line in table("list", "--target", target).splitlines() if "<id>" in line]
    local_rows = [" ".join(line.split()) for line in table("list", "--db", local_db).splitlines() if "<id>" in line]
    assert remote_rows == local_rows == ["│ <id> │ expense-approval │ RUNNING │ awaitManagerDecision │ <at> │"]
