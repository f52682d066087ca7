"""spec.compensation (dsl.md 2.5): after a run ends in failure, timeout, cancellation or engine error (or succeeds
matching `alsoFor`), the compensation graph runs with a deep copy of the final context and the read-only
`outcome` binding. `mode: sync` runs it before the outcome is final (it must not pause); `async` (the default)
starts it as a linked instance, `<journey>.compensation`, run like any other. The original phase never changes."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from jctl.engine.parallel import new_record
from jctl.engine.transitions import Effects, StateError, Transition
from jctl.store.models import NewEvent

if TYPE_CHECKING:
    from jctl.engine.roles import Machine

ENGINE_ERRORS = {"INTERNAL_ERROR", "TRANSITION_LIMIT", "EXPRESSION_ERROR", "INVALID_SPEC", "INVALID_STATE",
                 "NOT_SUPPORTED", "TASK_ERROR", "INVALID_TIMER", "INVALID_TIMEOUT"}
KIND_OF_EVENT = {"journey.succeeded": "Success", "journey.cancelled": "Cancel", "deadline.reached": "Timeout"}
SHARED_SPEC_KEYS = ("apis", "mappers", "policies", "defaults", "subjourneys", "errors", "platform")


def termination_kind(transition: Transition) -> str:
    ending = next((e.type for e in transition.events if e.type in KIND_OF_EVENT or e.type == "journey.failed"), "")
    if ending in KIND_OF_EVENT:
        return KIND_OF_EVENT[ending]
    code = (transition.snapshot.error or {}).get("code")
    return "RuntimeError" if code in ENGINE_ERRORS else "Fail"


def outcome_binding(interp: Machine, transition: Transition) -> dict[str, Any]:
    snap = transition.snapshot
    error = snap.error or {}
    run = interp.seams.platform.get("run") or {}
    journey = interp.seams.platform.get("journey") or {}
    return {"phase": snap.phase, "terminationKind": termination_kind(transition),
            "error": {"code": error.get("code"), "reason": error.get("reason")},
            "terminatedAtState": snap.current_state, "journeyId": run.get("id"), "journeyName": journey.get("name")}


def compensates(interp: Machine, transition: Transition, block: dict[str, Any]) -> bool:
    """Every non-success end compensates; a success only when an `alsoFor` rule matches."""
    snap = transition.snapshot
    if snap.phase != "SUCCEEDED":
        return True
    for index, rule in enumerate(block.get("alsoFor") or []):
        predicate = ((rule or {}).get("when") or {}).get("predicate")
        if predicate is None:
            return True
        if interp.executor.evaluate(predicate, snap.context, f"compensation.alsoFor[{index}]",
                                    output=snap.output) is True:
            return True
    return False


def compensate(interp: Machine, transition: Transition) -> dict[str, Any] | None:
    """Run or request compensation for a terminal transition; the summary kept in the cursor, or None."""
    block = interp.spec.get("compensation")
    if not isinstance(block, dict) or not block.get("states"):
        return None
    snap = transition.snapshot
    try:
        if not compensates(interp, transition, block):
            return None
    except StateError as exc:
        transition.events.append(NewEvent("compensation.error", snap.current_state, {"reason": exc.reason}))
        return None
    outcome = outcome_binding(interp, transition)
    if block.get("mode") != "sync":
        from jctl.store.models import new_instance_id

        request = {"id": new_instance_id(), **compensation_definition(interp, block, outcome, snap.context)}
        transition.spawn.append(request)
        transition.events.append(NewEvent("compensation.started", snap.current_state, {"journeyId": request["id"]}))
        return {"mode": "async", "journeyId": request["id"]}
    summary = run_sync(interp, block, outcome, copy.deepcopy(snap.context))
    transition.writes += summary.pop("writes")  # committed with the final transition, like the calls it records
    transition.events.append(NewEvent("compensation.completed", snap.current_state, summary))
    return {"mode": "sync", **{k: v for k, v in summary.items() if k != "http"}}


def run_sync(interp: Machine, block: dict[str, Any], outcome: dict[str, Any],
             context: dict[str, Any]) -> dict[str, Any]:
    record = new_record("compensation", block.get("start"), context)
    effects = Effects()
    executor = interp.executor
    saved, executor.bindings = executor.bindings, {**executor.bindings, "outcome": outcome}
    try:
        effects = executor.parallel.advance(record, block.get("states") or {})
    except StateError as exc:
        record.update(phase="FAILED", error={"code": exc.code, "reason": exc.reason})
    finally:
        executor.bindings = saved
    if record["phase"] == "RUNNING":
        record.update(phase="FAILED", error={"code": "NOT_SUPPORTED", "reason": f"sync compensation paused at "
                                             f"{record['current']}; a compensation that waits needs mode: async"})
    return {"phase": record["phase"], "error": record["error"], "output": record["output"], "http": effects.calls,
            "writes": effects.writes}


def compensation_definition(interp: Machine, block: dict[str, Any], outcome: dict[str, Any],
                            context: dict[str, Any]) -> dict[str, Any]:
    """What the runner needs to start the linked compensation instance."""
    spec = {key: interp.spec[key] for key in SHARED_SPEC_KEYS if key in interp.spec}
    name = f"{outcome.get('journeyName')}.compensation"
    definition = {"apiVersion": "v1", "kind": "Journey", "metadata": {"name": name},
                  "spec": {**spec, "start": block.get("start"), "states": block.get("states")}}
    return {"definition": definition, "context": copy.deepcopy(context), "outcome": outcome}
