"""Run scenarios: each in its own temporary store, driving the real jctl.engine Runner (start, signal, advance,
set_clock, tick, cancel); several scenarios run at once in worker processes. Results are plain picklable data."""

from __future__ import annotations

import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jctl.scenarios.loader import Scenario, Step

LAST_TRANSITIONS = 8


@dataclass
class ScenarioResult:
    file: str
    name: str
    line: int
    journey: str
    failures: list[str] = field(default_factory=list)
    error: str | None = None  # the scenario could not run to its end (bad input, engine error)
    failed_step_line: int | None = None
    events: list[tuple[str, str | None, dict[str, Any]]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return not self.failures and self.error is None

    @property
    def title(self) -> str:
        return f"{Path(self.file).name}::{self.name}"

    def last_transitions(self) -> list[str]:
        lines = [f"{kind} {state or ''}".strip() + (f" -> {data['next']}" if "next" in data else "")
                 for kind, state, data in self.events]
        return lines[-LAST_TRANSITIONS:]


def run_all(scenarios: list[Scenario], jobs: int) -> list[ScenarioResult]:
    """Every scenario's result, in the given order; `jobs` > 1 spreads them over worker processes."""
    if jobs <= 1 or len(scenarios) <= 1:
        return [run_scenario(s) for s in scenarios]
    import multiprocessing

    # spawn, not fork: a forked worker would inherit the parent's expression-engine workers and open handles
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(jobs, len(scenarios)), mp_context=context) as pool:
        return list(pool.map(run_scenario, scenarios))


def run_scenario(scenario: Scenario) -> ScenarioResult:
    from jctl.errors import JctlError
    from jctl.store.db import Store

    result = ScenarioResult(str(scenario.file), scenario.name, scenario.line, str(scenario.journey))
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="jctl-scenario-") as tmp:
        store = Store.open(Path(tmp) / "scenario.db")
        instance_id: str | None = None
        try:
            _set_start_clock(store, scenario.start)
            runner = _runner(store, scenario)
            try:
                envelope = runner.start(scenario.journey, scenario.input, mocks=scenario.mocks)
                instance_id = str(envelope.get("journeyId") or store.list_instances(limit=1)[0].id)
                for step in scenario.steps:
                    if not _perform(runner, store, instance_id, step, result):
                        break
            finally:
                runner.close()
        except JctlError as exc:
            result.error = exc.message + "".join(f"\n  - {d}" for d in exc.details)
        except Exception as exc:  # an engine defect must not take the other scenarios down
            result.error = f"internal error: {type(exc).__name__}: {exc}"
        if instance_id is None and store.list_instances(limit=1):
            instance_id = store.list_instances(limit=1)[0].id
        if instance_id is not None:
            result.events = [(e.type, e.state, e.data) for e in store.history(instance_id)]
        store.close()
    result.seconds = time.perf_counter() - began
    return result


def _set_start_clock(store: Any, start: str) -> None:
    """A fresh store's clock starts at wall time; a scenario starts at its own fixed instant so runs repeat."""
    from jctl.clock import parse_rfc3339, to_epoch_ms
    from jctl.store import rows

    moment = parse_rfc3339(start)
    with store.conn:
        rows.set_clock_ms(store.conn, to_epoch_ms(moment))


def _runner(store: Any, scenario: Scenario) -> Any:
    import httpx

    from jctl.engine.runner import Runner

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"scenario {scenario.name} has no mock for {request.method} {request.url}")

    # without mocks nothing may reach the network: a scenario is a closed world
    return Runner(store, http_transport=httpx.MockTransport(refuse), uuid_seed=scenario.seed or scenario.name,
                  platform_config=scenario.config)


def _perform(runner: Any, store: Any, instance_id: str, step: Step, result: ScenarioResult) -> bool:
    """Do one step; False when the scenario stops here (a failed expectation)."""
    from jctl.clock import parse_duration, parse_rfc3339

    body = step.body
    if step.kind == "signal":
        runner.signal(instance_id, body["payload"], step=body.get("step"), idempotency_key=body.get("idempotencyKey"))
    elif step.kind == "advance":
        runner.advance(parse_duration(body))
    elif step.kind == "set":
        runner.set_clock(parse_rfc3339(body))
    elif step.kind == "tick":
        runner.tick(until_idle=True)
    elif step.kind == "cancel":
        runner.cancel(instance_id)
    elif step.kind == "expect":
        from jctl.scenarios.expectations import check

        failures = check(body, store.get_instance(instance_id), store.history(instance_id))
        if failures:
            result.failures = failures
            result.failed_step_line = step.line
            return False
    return True
