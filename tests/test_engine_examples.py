"""Our own example journeys in specs/examples run with their mocks files: polling with timers, an approval
wait, and a webhook with a timeout."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from jctl.engine.runner import Runner
from jctl.store import Store
from jctl.tasks.mocks import load_mocks

EXAMPLES = Path(__file__).resolve().parents[1] / "specs" / "examples"


def example(name: str) -> tuple[Path, dict]:
    folder = EXAMPLES / name
    return folder / f"{name}.journey.yaml", load_mocks(folder / f"{name}.mocks.yaml")


@pytest.fixture
def runner(tmp_path: Path) -> Runner:
    return Runner(Store.open(tmp_path / "jctl.db"))


def test_examples_lint_clean():
    from jctl.lint import lint_file

    for path in sorted(EXAMPLES.glob("*/*.journey.yaml")):
        assert [d for d in lint_file(path)] == [], path


def test_report_export_polls_through_a_timeout_to_ready(runner: Runner):
    path, mocks = example("report-export")
    started = runner.start(path, {"reportType": "sales", "requestedBy": "ada"}, mocks=mocks, detach=True)
    assert started["statusUrl"].endswith(started["journeyId"])
    lines = runner.tick(auto_advance=True)
    assert sum("fired timer waitBeforePoll" in line for line in lines) == 3
    outcome = runner.status(started["journeyId"])
    assert outcome["phase"] == "SUCCEEDED" and outcome["status"] == "REPORT_READY"
    assert outcome["output"]["downloadUrl"].endswith("exp-1.csv")
    polls = [e.data["http"] for e in runner.store.history(started["journeyId"]) if "http" in e.data]
    assert polls[0]["operationRef"] == "reports.createExport"
    assert polls[1]["url"] == "https://reports.example.com/v2/exports/exp-1"
    assert polls[2]["result"]["error"]["type"] == "TIMEOUT"


def test_expense_approval_approve_and_escalate(runner: Runner):
    path, mocks = example("expense-approval")
    status = runner.start(path, {"claimId": "c1", "amount": 12.5}, mocks=mocks)
    assert status["currentState"] == "awaitManagerDecision"
    outcome = runner.signal(status["journeyId"], {"decision": "APPROVE", "manager": "grace"},
                            step="awaitManagerDecision")
    assert outcome["status"] == "EXPENSE_APPROVED" and outcome["output"]["approvedBy"] == "grace"
    waiting = runner.start(path, {"claimId": "c2", "amount": 3}, mocks=mocks)
    runner.advance(timedelta(hours=24))
    assert runner.status(waiting["journeyId"])["error"]["code"] == "EXPENSE_DECISION_TIMEOUT"


def test_card_activation_callback_and_expiry(runner: Runner):
    path, mocks = example("card-activation")
    status = runner.start(path, {"cardId": "card-1", "customerId": "cu-1"}, mocks=mocks)
    assert status["currentState"] == "awaitIssuerCallback" and "awaitIssuerCallback" in status["_links"]
    outcome = runner.signal(status["journeyId"], {"cardId": "card-1", "result": "ACTIVATED"})
    assert outcome["phase"] == "SUCCEEDED"
    first_call = next(e.data["http"] for e in runner.store.history(status["journeyId"]) if "http" in e.data)
    assert first_call["headers"]["Authorization"] == "***"
    expiring = runner.start(path, {"cardId": "card-2", "customerId": "cu-2"}, mocks=mocks)
    runner.advance(timedelta(minutes=15))
    expired = runner.status(expiring["journeyId"])
    assert expired["error"]["code"] == "CARD_ACTIVATION_EXPIRED"
    calls = [e.data["http"]["url"] for e in runner.store.history(expiring["journeyId"]) if "http" in e.data]
    assert calls[-1] == "https://issuer.example.com/cards/card-2/activation-codes/expire"


def test_identity_check_races_callback_against_sla_then_falls_back(runner: Runner):
    from jctl.engine.errors import StepConflict

    path, mocks = example("identity-check")
    fast = runner.start(path, {"applicantId": "a-1"}, mocks=mocks)
    assert fast["activeSteps"] == ["awaitPrimaryResult"]
    outcome = runner.signal(fast["journeyId"], {"verdict": "PASS"}, step="awaitPrimaryResult")
    assert outcome["status"] == "IDENTITY_VERIFIED" and outcome["output"]["source"] == "primary"
    slow = runner.start(path, {"applicantId": "a-2"}, mocks=mocks)
    runner.advance(timedelta(minutes=10))
    late = runner.status(slow["journeyId"])
    assert late["status"] == "IDENTITY_VERIFIED" and late["output"]["source"] == "fallback"
    with pytest.raises(StepConflict):  # a late primary callback cannot disturb the decision
        runner.signal(slow["journeyId"], {"verdict": "FAIL"}, step="awaitPrimaryResult")
