"""The third-party corpus journeys run with mocks written here: each reaches the terminal or paused state its
flow implies. Skipped when ../shared/corpus is absent."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from jctl.engine.errors import InvalidSpec
from jctl.engine.runner import Runner
from jctl.store import Store


@pytest.fixture
def corpus_dir() -> Path:
    path = Path(__file__).resolve().parents[2] / "shared/corpus"
    if not path.exists():
        pytest.skip("the shared corpus is not available")
    return path / "examples"


@pytest.fixture
def runner(tmp_path: Path) -> Runner:
    return Runner(Store.open(tmp_path / "jctl.db"))


def journey(corpus: Path, group: str, name: str) -> Path:
    return corpus / group / name / f"{name}.journey.yaml"


def refused_by_lint(runner: Runner, path: Path) -> bool:
    """The linter evolves: a corpus spec it flags with errors must be refused, creating nothing."""
    from jctl.diagnostics import Severity
    from jctl.lint import lint_file

    if not any(d.severity == Severity.ERROR for d in lint_file(path)):
        return False
    with pytest.raises(InvalidSpec):
        runner.start(path, {})
    assert runner.store.list_instances() == []
    return True


JOB_MOCKS = {"mocks": [
    {"match": {"method": "POST", "url": "https://jobs.example.com/async-jobs"},
     "respond": {"status": 202, "body": {"jobId": "job-7"}}},
    {"match": {"method": "GET", "url": "https://jobs.example.com/async-jobs/*"},
     "respond": [{"status": 200, "body": {"state": "RUNNING"}}, {"status": 200, "body": {"state": "COMPLETED"}}]},
]}


def test_async_fire_and_observe_polls_until_completed(corpus_dir: Path, runner: Runner):
    path = journey(corpus_dir, "technical", "async-fire-and-observe")
    if refused_by_lint(runner, path):
        return
    started = runner.start(path, {"jobType": "export", "correlationId": "c-1", "pollIntervalSeconds": 10},
                           mocks=JOB_MOCKS)
    assert started["phase"] == "RUNNING" and started["currentState"] == "waitForNextPoll"
    assert runner.advance(timedelta(seconds=9)) == []
    runner.advance(timedelta(seconds=1))
    assert runner.status(started["journeyId"])["currentState"] == "waitForNextPoll"
    runner.advance(timedelta(seconds=10))
    outcome = runner.status(started["journeyId"])
    assert outcome["phase"] == "SUCCEEDED" and outcome["status"] == "JOB_COMPLETED"
    assert outcome["output"]["jobId"] == "job-7"
    history = runner.store.history(started["journeyId"])
    assert [e.data["http"]["url"] for e in history if "http" in e.data] == [
        "https://jobs.example.com/async-jobs", *["https://jobs.example.com/async-jobs/job-7"] * 2]


def test_async_fire_and_observe_detached_with_auto_advance(corpus_dir: Path, runner: Runner):
    path = journey(corpus_dir, "technical", "async-fire-and-observe")
    if refused_by_lint(runner, path):
        return
    started = runner.start(path, {"jobType": "export", "correlationId": "c-2"}, mocks=JOB_MOCKS, detach=True)
    assert "statusUrl" in started
    lines = runner.tick(auto_advance=True)
    assert sum("fired timer waitForNextPoll" in line for line in lines) == 2
    assert runner.status(started["journeyId"])["status"] == "JOB_COMPLETED"


def test_http_chained_calls_api_resolves_operation_refs(corpus_dir: Path, runner: Runner):
    mocks = {"mocks": [
        {"match": {"operationRef": "users.getUserById"},
         "respond": {"status": 200, "body": {"id": "u1", "active": True, "email": "ada@example.com"}}},
        {"match": {"operationRef": "accounts.createAccount"},
         "respond": {"status": 201, "body": {"accountId": "a1", "ownerId": "u1"}}},
    ]}
    path = journey(corpus_dir, "technical", "http-chained-calls-api")
    if refused_by_lint(runner, path):
        return
    outcome = runner.start(path, {"userId": "u1"}, mocks=mocks)
    assert outcome["phase"] == "SUCCEEDED", outcome
    assert outcome["output"]["status"] == 201 and outcome["output"]["body"]["accountId"] == "a1"
    history = runner.store.history(outcome["journeyId"])
    urls = [e.data["http"]["url"] for e in history if "http" in e.data]
    assert urls[0].endswith("/users/u1") and urls[0].startswith("http")


def test_http_timeout_branch_fails_on_timeout(corpus_dir: Path, runner: Runner):
    mocks = {"mocks": [{"match": {"url": "https://api.example.com/slow/*"}, "respond": {"error": "TIMEOUT"}}]}
    path = journey(corpus_dir, "technical", "http-timeout-branch")
    if refused_by_lint(runner, path):
        return
    outcome = runner.start(path, {"id": "x"}, mocks=mocks)
    assert outcome["phase"] == "FAILED" and outcome["error"]["code"] == "TIMEOUT"


def test_http_cookie_jar_succeeds_with_mocked_login(corpus_dir: Path, runner: Runner):
    mocks = {"mocks": [
        {"match": {"method": "POST", "url": "https://api.example.com/login"},
         "respond": {"status": 200, "headers": {"Set-Cookie": "session=s1"}, "body": {}}},
        {"match": {"method": "GET", "url": "https://api.example.com/profile"},
         "respond": {"status": 200, "body": {"name": "Ada"}}},
    ]}
    path = journey(corpus_dir, "technical", "http-cookie-jar")
    if refused_by_lint(runner, path):
        return
    outcome = runner.start(path, {}, mocks=mocks)
    assert outcome["phase"] == "SUCCEEDED" and outcome["output"]["body"] == {"name": "Ada"}
    assert outcome["setCookie"] == ["session=***; Domain=api.example.com; Path=/"]


def test_sync_wrapper_wait_loops_until_done_and_times_out(corpus_dir: Path, runner: Runner):
    path = journey(corpus_dir, "technical", "sync-wrapper-wait")
    if refused_by_lint(runner, path):
        return
    first = runner.start(path, {})
    assert first["currentState"] == "waitStep" and "waitStep" in first["_links"]
    assert runner.signal(first["journeyId"], {"status": "PENDING"}, step="waitStep")["currentState"] == "waitStep"
    outcome = runner.signal(first["journeyId"], {"status": "DONE"}, step="waitStep")
    assert outcome["phase"] == "SUCCEEDED" and outcome["output"] == {"status": "DONE"}
    second = runner.start(path, {})
    runner.advance(timedelta(seconds=10))
    assert runner.status(second["journeyId"])["error"]["code"] == "OPERATION_TIMED_OUT"


def test_payment_callback_without_a_local_auth_profile_stops_clearly(corpus_dir: Path, runner: Runner):
    mocks = {"mocks": [{"match": {"operationRef": "payments.authorizePayment"},
                        "respond": {"status": 200, "body": {"state": "PENDING"}}}]}
    path = journey(corpus_dir, "technical", "payment-callback")
    if refused_by_lint(runner, path):
        return
    started = runner.start(path,
                           {"paymentId": "p1", "amount": 10, "currency": "EUR"}, mocks=mocks)
    assert started["currentState"] == "waitForCallback"
    outcome = runner.signal(started["journeyId"], {"paymentId": "p1", "status": "SUCCESS"})
    # the apiKeyValidate:v1 plugin runs, and says it has no key profile (tests/test_plugin_corpus.py gives it one)
    assert outcome["phase"] == "FAILED" and outcome["error"]["code"] == "APIKEY_CONFIG_PROFILE_MISSING"


def test_b2b_purchase_order_rejection_and_parallel_approvals(corpus_dir: Path, runner: Runner):
    path = journey(corpus_dir, "business", "b2b-purchase-order")
    if refused_by_lint(runner, path):
        return
    mocks = {"mocks": [{"match": {"operationRef": "purchaseOrders.createPurchaseOrder"},
                        "respond": {"status": 201, "body": {"status": "CREATED"}}}]}
    order = {"purchaseOrderId": "po-1", "buyerId": "b", "supplierId": "s",
             "lineItems": [{"sku": "x", "quantity": 1, "unitPrice": 2.5}]}
    rejected = runner.start(path, order, mocks=mocks)
    assert rejected["currentState"] == "waitForLevel1Approval"
    response = runner.signal(rejected["journeyId"], {"decision": "reject"})
    assert response["phase"] == "FAILED"
    approved = runner.start(path, order, mocks=mocks)
    level2 = runner.signal(approved["journeyId"], {"decision": "approve"})
    assert level2["currentState"] == "level2ParallelApprovals"
    assert sorted(level2["activeSteps"]) == ["waitForDepartmentApproval", "waitForFinanceApproval"]
    finance = runner.signal(approved["journeyId"], {"decision": "approve"}, step="waitForFinanceApproval")
    assert finance["activeSteps"] == ["waitForDepartmentApproval"]
    level3 = runner.signal(approved["journeyId"], {"decision": "approve", "comment": "ok"},
                           step="waitForDepartmentApproval")
    assert level3["currentState"] == "waitForLevel3Approval"
    outcome = runner.signal(approved["journeyId"], {"decision": "approve"}, step="waitForLevel3Approval")
    assert outcome["phase"] == "SUCCEEDED", outcome
    assert outcome["output"]["level2"]["department"]["comment"] == "ok"
    assert outcome["output"]["level2"]["finance"]["decision"] == "approve"
    assert outcome["output"]["level1"]["decision"] == "approve"


def sample_input(schema: dict) -> dict:
    """The smallest input satisfying the required fields of a start schema."""
    samples = {"string": "x", "integer": 1, "number": 1, "boolean": True, "array": [], "object": {}}
    result = {}
    for name in schema.get("required", []):
        prop = (schema.get("properties") or {}).get(name, {})
        result[name] = prop["enum"][0] if "enum" in prop else samples.get(prop.get("type"), "x")
    return result


def all_corpus_journeys() -> list[Path]:
    root = Path(__file__).resolve().parents[2] / "shared/corpus/examples"
    return sorted(root.glob("*/*/*.journey.yaml")) if root.exists() else []


@pytest.mark.parametrize("path", all_corpus_journeys(), ids=lambda p: p.stem)
def test_every_corpus_journey_is_refused_or_runs_to_a_pause_or_an_end(runner: Runner, path: Path):
    import yaml

    if refused_by_lint(runner, path):
        return
    spec = yaml.safe_load(path.read_text())["spec"]
    result = runner.start(path, sample_input((spec.get("input") or {}).get("schema") or {}), mocks={"mocks": []})
    instance = runner.store.get_instance(result["journeyId"])
    if instance.phase == "RUNNING":
        assert instance.cursor["paused"] in ("wait", "webhook", "timer")
    else:
        assert result["status"] and instance.phase in ("SUCCEEDED", "FAILED")
        assert instance.error is None or instance.error["code"] != "INTERNAL_ERROR", instance.error
