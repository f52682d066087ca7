"""The journey interpreter: given a definition, a snapshot of an instance and a trigger, it yields the state
transitions up to the next pause or the end. Effects go only through the injected seams (HTTP, expressions, clock)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from jctl.engine.cursor import FRAME_KINDS, INPUT_STATES, paused_input_steps, unpaused_cursor
from jctl.engine.errors import InvalidPayload, StepConflict
from jctl.engine.seams import Seams
from jctl.engine.states import StateExecutor
from jctl.engine.transitions import (
    PURE_STATE_TYPES,
    Snapshot,
    StateError,
    Transition,
    input_next,
    timeout_next,
    timer_next,
)
from jctl.payload_schema import schema_violations
from jctl.store.models import NewEvent

DEFAULT_MAX_TRANSITIONS = 100_000
DEFAULT_MAX_INLINE_TIMERS = 100  # already-due timers fired within one trigger before the rest waits for a tick


@dataclass
class SignalTarget:
    """The paused step a signal is for."""

    state_id: str
    state: dict[str, Any]
    kind: str  # wait | webhook
    branch: str | None  # the path of the parallel branch or subjourney record holding the step, if any


class Interpreter:
    """Turns a trigger (start, signal, timer, step timeout, deadline, cancel) into the transitions it causes."""

    def __init__(self, definition: dict[str, Any], seams: Seams, *, spec_path: Path | None = None,
                 max_transitions: int = DEFAULT_MAX_TRANSITIONS, max_inline_timers: int = DEFAULT_MAX_INLINE_TIMERS):
        from jctl.tasks.openapi_ops import OperationCatalog

        self.spec = definition.get("spec") or {}
        self.states: dict[str, Any] = self.spec.get("states") or {}
        self.seams = seams
        self.catalog = OperationCatalog(spec_path, self.spec.get("apis"))
        self.max_transitions = max_transitions
        self.inline_timers_left = max_inline_timers
        self.executor = StateExecutor(self)

    # -- triggers -------------------------------------------------------------------------------------------
    def run(self, snap: Snapshot) -> Iterator[Transition]:
        """Start or resume: execute from current_state unless paused."""
        if snap.phase != "RUNNING" or snap.cursor.get("paused"):
            return
        yield from self._run_from(snap)

    def signal(self, snap: Snapshot, payload: Any, step: str | None) -> Iterator[Transition]:
        """Validate first (raising before any transition), then ingest the payload and continue."""
        target = self.check_signal(snap, payload, step)
        if target.branch is not None:
            return self._resume_branch(snap, target.branch, "signal", target.state_id, payload)
        context = dict(snap.context)
        context["payload"] = copy.deepcopy(payload)
        nxt = input_next(target.state)
        after = replace(snap, context=context, current_state=nxt, cursor=unpaused_cursor(snap.cursor))
        event = NewEvent("signal.received", target.state_id, {"payload": payload, "next": nxt})
        return self._continue(Transition(after, [event], cancel_due=["step-timeout"], pure=True))

    def check_signal(self, snap: Snapshot, payload: Any, step: str | None) -> SignalTarget:
        """The step the payload is for; raises (changing nothing) when no such step takes this payload now."""
        if snap.phase != "RUNNING":
            raise StepConflict(f"the instance has already finished ({snap.phase}); it accepts no more input")
        target = self._signal_target(snap, step)
        schema = ((target.state.get(target.kind) or {}).get("input") or {}).get("schema")
        violations = schema_violations(schema, payload)
        if violations:
            raise InvalidPayload(f"the payload does not match the input.schema of step {target.state_id!r}; "
                                 f"nothing changed", violations)
        return target

    def _signal_target(self, snap: Snapshot, step: str | None) -> SignalTarget:
        paused, current = snap.cursor.get("paused"), snap.current_state
        if paused in FRAME_KINDS:
            return self._branch_signal_target(snap, step)
        if paused not in INPUT_STATES or current is None:
            where = f"paused at timer {current}" if paused == "timer" else f"at state {current}"
            raise StepConflict(f"no step is waiting for input: the instance is {where}",
                               hint="signal when `status` shows a wait or webhook state")
        if step is not None and step != current:
            raise StepConflict(f"step {step!r} is not active; the active step is {current!r}",
                               hint=f"send the payload to step {current}")
        return SignalTarget(current, self.states[current], str(paused), None)

    def _branch_signal_target(self, snap: Snapshot, step: str | None) -> SignalTarget:
        active = paused_input_steps(snap.cursor)
        names = ", ".join(state_id for _, state_id, _ in active)
        if not active:
            raise StepConflict(f"no step is waiting for input: the records of {snap.cursor.get('paused')} state "
                               f"{snap.current_state} are paused at timers")
        if step is None and len(active) > 1:
            raise StepConflict(f"several steps are active ({names}); name the one this payload is for",
                               hint="pass --step <step id>")
        # a step is named by its id, or by `<branch path>/<id>` when branches share step ids
        chosen = [entry for entry in active if step is None or step in (entry[1], f"{entry[0]}/{entry[1]}")]
        if not chosen:
            raise StepConflict(f"step {step!r} is not active; the active steps are {names}")
        if len(chosen) > 1:
            paths = ", ".join(f"{path}/{state_id}" for path, state_id, _ in chosen)
            raise StepConflict(f"step {step!r} is active in several branches; name one of {paths}")
        branch, state_id, kind = chosen[0]
        state = self.executor.parallel.branch_state(snap.cursor, branch, state_id)
        return SignalTarget(state_id, state, kind, branch)

    def timer_fired(self, snap: Snapshot, state_id: str | None, branch: str | None = None) -> Iterator[Transition]:
        if branch is not None and _paused_in_parallel(snap):
            return self._resume_branch(snap, branch, "timer", state_id)
        current = snap.current_state
        if snap.phase != "RUNNING" or snap.cursor.get("paused") != "timer" or current is None or current != state_id:
            return _stale()
        nxt = timer_next(self.states[current])
        after = replace(snap, current_state=nxt, cursor=unpaused_cursor(snap.cursor))
        return self._continue(Transition(after, [NewEvent("timer.fired", state_id, {"next": nxt})],
                                         cancel_due=["timer"], pure=True))

    def step_timed_out(self, snap: Snapshot, state_id: str | None,
                       branch: str | None = None) -> Iterator[Transition]:
        if branch is not None and _paused_in_parallel(snap):
            return self._resume_branch(snap, branch, "step-timeout", state_id)
        paused, current = snap.cursor.get("paused"), snap.current_state
        if snap.phase != "RUNNING" or paused not in INPUT_STATES or current is None or current != state_id:
            return _stale()
        nxt = timeout_next(self.states[current], paused)
        after = replace(snap, current_state=nxt, cursor=unpaused_cursor(snap.cursor))
        return self._continue(Transition(after, [NewEvent("step.timeout", state_id, {"next": nxt})],
                                         cancel_due=["step-timeout"], pure=True))

    def retry_due(self, snap: Snapshot, state_id: str | None, branch: str | None = None) -> Iterator[Transition]:
        """The backoff of an HTTP task's retry policy is over: make the next attempt."""
        if branch is not None and _paused_in_parallel(snap):
            return self._resume_branch(snap, branch, "retry", state_id)
        current = snap.current_state
        if snap.phase != "RUNNING" or snap.cursor.get("paused") != "retry" or current is None or current != state_id:
            return _stale()
        return _cancelling(self._run_from(replace(snap, cursor={**snap.cursor, "paused": None})), "retry")

    def deadline_reached(self, snap: Snapshot) -> Iterator[Transition]:
        if snap.phase != "RUNNING":
            return _stale()
        on_timeout = (self.spec.get("execution") or {}).get("onTimeout") or {}
        error = {"code": str(on_timeout.get("errorCode") or "JOURNEY_TIMEOUT"),
                 "reason": str(on_timeout.get("reason") or "Overall execution time exceeded maxDurationSec")}
        return iter([self.concluded(self.failed(snap, error, "deadline.reached"))])

    def cancel(self, snap: Snapshot) -> Transition:
        return self.concluded(self.failed(snap, {"code": "JOURNEY_CANCELLED", "reason": "Cancelled by user"},
                                          "journey.cancelled"))

    def concluded(self, transition: Transition) -> Transition:
        """At the journey's end: check the output against spec.output.schema (violations are recorded and shown,
        the phase stays) and classify the result by spec.outcomes (dsl.md 20, the first match in spec order)."""
        if transition.snapshot.phase not in ("SUCCEEDED", "FAILED") or not transition.halts:
            return transition
        snap = transition.snapshot = self._close_jar(transition.snapshot)
        extra: dict[str, Any] = {}
        schema = (self.spec.get("output") or {}).get("schema")
        violations = schema_violations(schema, snap.output) if snap.phase == "SUCCEEDED" else []
        if violations:
            extra["outputViolations"] = violations
            transition.events.append(NewEvent("output.invalid", snap.current_state, {"violations": violations}))
        if snap.phase == "FAILED" and snap.error:
            extra.update(self._error_envelope(snap, transition))
        outcome_id, problem = self._outcome(snap)
        if outcome_id:
            extra["outcomeId"] = outcome_id
            transition.events.append(NewEvent("outcome.classified", snap.current_state, {"outcomeId": outcome_id}))
        if problem:
            transition.events.append(NewEvent("outcome.error", snap.current_state, {"reason": problem}))
        from jctl.engine.compensation import compensate

        compensation = compensate(self, transition)
        if compensation:
            extra["compensation"] = compensation
        if extra:
            transition.snapshot = replace(snap, cursor={**snap.cursor, **extra})
        return transition

    def _close_jar(self, snap: Snapshot) -> Snapshot:
        """The jar ends with the run (dsl.md 22.1); a run that succeeded keeps the Set-Cookie lines
        returnToClient selects (22.4) for the response that carries its outcome."""
        from jctl.engine.cookies import CURSOR_KEY, RETURNED_KEY, CookieJar

        if CURSOR_KEY not in snap.cursor:
            return snap
        cursor = {key: value for key, value in snap.cursor.items() if key != CURSOR_KEY}
        returned = (self.spec.get("cookies") or {}).get("returnToClient")
        jar = CookieJar.of(self.spec, snap.cursor)
        if snap.phase == "SUCCEEDED" and isinstance(returned, dict) and jar is not None:
            lines = jar.set_cookie_lines(returned, self.seams.now())
            if lines:
                cursor[RETURNED_KEY] = lines
        return replace(snap, cursor=cursor)

    def _error_envelope(self, snap: Snapshot, transition: Transition) -> dict[str, Any]:
        """The error as RFC 9457 Problem Details (`problem`), and with spec.errors.envelope.format custom the
        journey's error body from its mapper (`errorBody`), the one shape every error path of the journey has."""
        error = snap.error or {}
        problem = {"type": error.get("code"), "title": error.get("reason"), "status": error.get("status", 500),
                   "instance": f"/api/v1/journeys/{(self.seams.platform.get('run') or {}).get('id')}"}
        envelope = (self.spec.get("errors") or {}).get("envelope") or {}
        if envelope.get("format") != "custom":
            return {"problem": problem}
        try:
            body = self.executor.evaluate(envelope, snap.context, "errors.envelope", error=problem)
        except StateError as exc:
            transition.events.append(NewEvent("envelope.error", snap.current_state, {"reason": exc.reason}))
            return {"problem": problem}
        return {"problem": problem, "errorBody": body}

    def _outcome(self, snap: Snapshot) -> tuple[str | None, str | None]:
        for outcome_id, rule in (self.spec.get("outcomes") or {}).items():
            when = (rule or {}).get("when") or {}
            if when.get("phase") != snap.phase:
                continue
            predicate = when.get("predicate")
            if predicate is None:
                return str(outcome_id), None
            try:
                value = self.executor.evaluate(predicate, snap.context, f"outcomes.{outcome_id}", output=snap.output,
                                               error=snap.error)
            except StateError as exc:
                return None, f"outcomes.{outcome_id}: {exc.reason}"
            if value is True:
                return str(outcome_id), None
        return None, None

    def take_inline_timer(self) -> bool:
        """Whether a timer already due when reached may fire now, within this trigger (bounded, so a zero-delay
        loop still hands over to the due-work budgets of tick and clock moves)."""
        if self.inline_timers_left <= 0:
            return False
        self.inline_timers_left -= 1
        return True

    # -- the loop -------------------------------------------------------------------------------------------
    def _resume_branch(self, snap: Snapshot, branch: str, trigger: str, state_id: str | None,
                       payload: Any = None) -> Iterator[Transition]:
        from jctl.engine.cookies import CookieJar

        self.executor.jar = CookieJar.of(self.spec, snap.cursor)
        resumed = self.executor.parallel.resume(snap, branch, trigger, state_id, payload)
        return self._continue(self.executor.keep_jar(resumed)) if resumed else _stale()

    def _continue(self, first: Transition) -> Iterator[Transition]:
        yield self.concluded(first)
        if not first.halts:
            yield from self._run_from(first.snapshot)

    def _run_from(self, snap: Snapshot) -> Iterator[Transition]:
        for _ in range(self.max_transitions):
            transition = self.concluded(self.executor.execute(snap))
            transition.pure = self._state_type(snap.current_state) in PURE_STATE_TYPES and not transition.spawn \
                and not transition.writes  # a sync compensation of a terminal step makes calls and writes
            yield transition
            if transition.halts:
                return
            snap = transition.snapshot
        yield self.concluded(self.failed(snap, {"code": "TRANSITION_LIMIT", "reason": f"more than "
                                                f"{self.max_transitions} transitions without pausing; the journey "
                                                f"probably loops forever"}, "journey.failed"))

    def pure_next(self, snap: Snapshot) -> bool:
        """Whether the step a drive at `snap` runs next only computes (no call, no write outside the instance, nor
        a compensation that could make one when it fails)."""
        compensation = self.spec.get("compensation")
        return snap.phase == "RUNNING" and not snap.cursor.get("paused") and not (
            isinstance(compensation, dict) and compensation.get("states")) \
            and self._state_type(snap.current_state) in PURE_STATE_TYPES

    def _state_type(self, state_id: str | None) -> Any:
        state = self.states.get(state_id) if state_id is not None else None
        return state.get("type") if isinstance(state, dict) else None

    def failed(self, snap: Snapshot, error: dict[str, Any], event_type: str = "journey.failed") -> Transition:
        after = replace(snap, phase="FAILED", error=error, cursor=unpaused_cursor(snap.cursor))
        return Transition(after, [NewEvent(event_type, snap.current_state, {"error": error})],
                          cancel_due=True, halts=True)


def _paused_in_parallel(snap: Snapshot) -> bool:
    return snap.phase == "RUNNING" and snap.cursor.get("paused") in FRAME_KINDS


def _cancelling(transitions: Iterator[Transition], kind: str) -> Iterator[Transition]:
    """The transitions, the first also discarding the fired due item of `kind`."""
    for index, transition in enumerate(transitions):
        if index == 0 and transition.cancel_due is not True:
            transition.cancel_due = [*(transition.cancel_due or []), kind]
        yield transition


def _stale() -> Iterator[Transition]:
    """Due work for a state the instance has left: no transition; the runner discards the record by id
    (cancelling by kind here could drop a live timeout of a later visit to a wait)."""
    return iter(())
