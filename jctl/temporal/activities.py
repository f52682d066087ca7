"""The one activity of a journey: advance an instance's snapshot by one trigger up to its next pause, with every
effect (HTTP and plugin tasks, expression engines) happening here, on a worker, never in workflow code. Its result
(the transitions) is recorded in the workflow history, so a replay reuses it instead of calling anything again."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from jctl.engine.interpreter import Interpreter, Seams
from jctl.engine.transitions import Snapshot, StateError, Transition
from jctl.temporal.codec import instance_of, snapshot_of_doc, transition_doc

EXPRESSION_TIMEOUT_S = 5.0


@activity.defn(name="jctl.advance")
def advance(request: dict[str, Any]) -> dict[str, Any]:
    """`request`: {instance, trigger: {kind, state?, branch?, payload?, step?}, now}; returns the transitions the
    trigger causes and the mock counters after them."""
    return run_trigger(request["instance"], request["trigger"], datetime.fromisoformat(request["now"]))


def run_trigger(instance_doc: dict[str, Any], trigger: dict[str, Any], now: datetime) -> dict[str, Any]:
    from jctl.engine.errors import InvalidPayload, StepConflict
    from jctl.engine.runner import platform_binding
    from jctl.tasks.http import LazyClient

    instance = instance_of(instance_doc)
    counters: dict[str, int] = dict(instance.cursor.get("mockCounters") or {})
    client = LazyClient(_transport(instance.mocks, counters))
    spec_path = instance.cursor.get("specPath")
    seams = Seams(evaluate=_evaluator(now), http_client=client, now=lambda: now,
                  platform={**platform_binding(instance), "environment": "temporal"})
    interp = Interpreter(instance.definition, seams, spec_path=Path(spec_path) if spec_path else None)
    snap = snapshot_of_doc(instance_doc)
    try:
        transitions = [transition_doc(t) for t in _drive(interp, snap, trigger)]
    except (InvalidPayload, StepConflict) as exc:  # the instance moved on between validation and delivery
        raise ApplicationError(exc.message, {"details": exc.details, "hint": exc.hint},
                               type=type(exc).__name__, non_retryable=True) from None
    finally:
        client.close()
    return {"transitions": transitions, "mockCounters": counters}


def _drive(interp: Interpreter, snap: Snapshot, trigger: dict[str, Any]) -> Iterator[Transition]:
    kind, state, branch = trigger["kind"], trigger.get("state"), trigger.get("branch")
    if kind == "run":
        return interp.run(snap)
    if kind == "signal":
        return interp.signal(snap, trigger.get("payload"), trigger.get("step"))
    if kind == "timer":
        return interp.timer_fired(snap, state, branch)
    if kind == "step-timeout":
        return interp.step_timed_out(snap, state, branch)
    if kind == "deadline":
        return interp.deadline_reached(snap)
    if kind == "cancel":
        return iter([interp.cancel(snap)]) if snap.phase == "RUNNING" else iter(())
    raise ApplicationError(f"unknown trigger {kind!r}", type="UnknownTrigger", non_retryable=True)


def _transport(mocks: dict[str, Any] | None, counters: dict[str, int]) -> Callable[[], Any]:
    if mocks is None:
        return lambda: None  # httpx's real network transport
    from jctl.tasks.mocks import mock_transport

    return lambda: mock_transport(mocks, counters)


def _evaluator(now: datetime) -> Callable[[str, str, dict[str, Any]], Any]:
    from jctl.expr import EvalOptions, ExpressionError, evaluate

    def run(lang: str, expr: str, bindings: dict[str, Any]) -> Any:
        try:
            return evaluate(lang, expr, bindings, EvalOptions(now=now, timeout_s=EXPRESSION_TIMEOUT_S))
        except ExpressionError as exc:
            raise StateError("EXPRESSION_ERROR", f"{lang} expression failed: {exc}") from None

    return run
