"""JourneyWorkflow: one journey instance as a Temporal workflow, driving jctl's interpreter.

The cut: the workflow owns time and input (due work becomes durable timers; step submissions arrive as Updates;
status and history are Queries), and hands every trigger to the `jctl.advance` activity, which runs the
interpreter from the snapshot up to its next pause and returns the transitions. The workflow only applies them
(`JourneyState.commit`) — so replaying its history re-applies recorded activity results, never re-running HTTP
calls or expressions, and the DSL semantics stay in jctl.engine."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from jctl.engine import envelopes
    from jctl.masking import definition_paths, masked_event_data
    from jctl.engine.errors import InvalidPayload, StepConflict
    from jctl.engine.interpreter import Interpreter, SignalTarget
    from jctl.engine.seams import Seams
    from jctl.store.models import Instance
    from jctl.temporal.codec import JourneyState, instance_of, snapshot_of_doc

WORKFLOW_NAME = "JourneyWorkflow"
ACTIVITY_NAME = "jctl.advance"
MAX_AUTO_ADVANCE = 10_000
AUTO_ADVANCE = "jctl-start-auto-advance"  # the inbox key of `run --auto-advance`: nobody waits for its answer
# continue as new past this many history events even on a server that never suggests it (Temporal warns at 10K)
HISTORY_LIMIT = 8_000
CONTINUE_AFTER_UPDATES = "jctl-continue-as-new-after-updates"  # the patch id of waking the loop to continue as new


@workflow.defn(name=WORKFLOW_NAME)
class JourneyWorkflow:
    @workflow.init
    def __init__(self, start: dict[str, Any]) -> None:
        self.state = JourneyState(dict(start["instance"]))
        if start.get("continued"):  # a continue-as-new run: the history events are carried over as they were
            self.state.events = list(start["events"])
        else:
            self.state.record(list(start["events"]), datetime.fromisoformat(start["instance"]["createdAt"]))
        self.state.schedule(list(start["due"]))
        self.options: dict[str, Any] = dict(start.get("options") or {})
        # the journey's clock = workflow time + offset (moved only by `advance`)
        self.offset = timedelta(seconds=float(start.get("offsetSec", 0)))
        self.inbox: list[tuple[str, dict[str, Any]]] = []  # (update id, request): steps and clock moves, in order
        self.answers: dict[str, dict[str, Any]] = {}
        self.idle = False
        self.cancel_requested = False
        self.wake_to_continue = True  # set by `run` from the patch marker
        if self.options.get("autoAdvance"):
            self.inbox.append((AUTO_ADVANCE, {"clock": "auto"}))

    @workflow.run
    async def run(self, start: dict[str, Any]) -> dict[str, Any]:
        # runs begun by an older worker never woke for it: replaying their history must take the same path
        self.wake_to_continue = workflow.patched(CONTINUE_AFTER_UPDATES)
        while self.state.running:
            await self._next()  # one trigger's transitions committed, or a wait that may end for continue-as-new
            if self.state.running and self._may_continue_as_new():
                workflow.continue_as_new(self._carried_over())
        self.idle = True
        self._answer_leftovers()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return envelopes.journey_outcome(self._instance())

    def _answer_leftovers(self) -> None:
        """Requests queued while the journey was ending: a clock move gets the outcome, a step the conflict."""
        finished = StepConflict(f"the instance has already finished ({self.state.instance['phase']}); "
                                f"it accepts no more input")
        for key, request in self.inbox:
            self.answers[key] = ({"error": _error_doc(finished)} if "clock" not in request
                                 else {"envelope": envelopes.envelope(self._instance())})
        self.inbox.clear()
        self.answers.pop(AUTO_ADVANCE, None)

    # -- queries and updates --------------------------------------------------------------------------------
    @workflow.query(name="status")
    def status(self) -> dict[str, Any]:
        return envelopes.envelope(self._instance())

    @workflow.query(name="history")
    def history(self) -> list[dict[str, Any]]:
        """The history as every driver shows it: secret-marked fields masked (jctl.masking)."""
        paths = definition_paths(self.state.instance.get("definition") or {})
        return [{**event, "data": masked_event_data(event.get("data") or {}, paths)} for event in self.state.events]

    @workflow.update(name="step")
    async def step(self, request: dict[str, Any]) -> dict[str, Any]:
        """A step submission; the update id is the idempotency key (Temporal answers a repeated id once)."""
        return await self._queued(request)

    @step.validator
    def validate_step(self, request: dict[str, Any]) -> None:
        """Refuse, before anything is recorded, a payload the step's schema rejects or a step that is not active."""
        try:
            self._check(request)
        except (InvalidPayload, StepConflict) as exc:
            raise _application_error(exc) from None

    @workflow.update(name="advance")
    async def advance(self, request: dict[str, Any]) -> dict[str, Any]:
        """Move this journey's clock: {"seconds": n} fires what falls due on the way; {"auto": true} skips to each
        due timer until the journey ends or waits for a person (as `jctl clock advance` / `--auto-advance`)."""
        return await self._queued({"clock": "auto" if request.get("auto") else float(request.get("seconds", 0))})

    @workflow.update(name="settle")
    async def settle(self) -> dict[str, Any]:
        """The status once the journey has run up to its next pause (what `jctl run` prints)."""
        await workflow.wait_condition(lambda: (self.idle and not self.inbox) or not self.state.running)
        return envelopes.envelope(self._instance())

    async def _queued(self, request: dict[str, Any]) -> dict[str, Any]:
        key = workflow.current_update_info().id  # type: ignore[union-attr]
        self.inbox.append((key, request))
        await workflow.wait_condition(lambda: key in self.answers)
        answer = self.answers.pop(key)
        if "error" in answer:
            error = answer["error"]
            raise ApplicationError(error["message"], {"details": error["details"], "hint": error["hint"]},
                                   type=error["type"], non_retryable=True)
        return dict(answer["envelope"])

    # -- the loop -------------------------------------------------------------------------------------------
    async def _next(self) -> None:
        """Handle one thing: a cancellation, a queued request, or due work; else wait for the next of them."""
        if self.cancel_requested:
            self.cancel_requested = False
            if envelopes.cancellable(self._instance()):
                await self._apply({"kind": "cancel"})
            return
        if self.inbox:
            key, request = self.inbox.pop(0)
            answer = await self._answer(request)
            if key != AUTO_ADVANCE:
                self.answers[key] = answer
            return
        work = self.state.next_due()
        if work is not None and (work["kind"] == "run" or _due_at(work) <= self._now()):
            await self._fire(work)  # a `run` is never waited for, even when the client's clock is ahead of ours
            return
        self.idle = True
        timeout = max((_due_at(work) - self._now()).total_seconds(), 0.001) if work is not None else None
        try:
            # also woken once the update that just committed a batch has answered, when the history is long by then:
            # steps and clock moves arrive as updates, so without this the loop would wait past every suggestion
            await workflow.wait_condition(lambda: bool(self.inbox) or self.cancel_requested
                                          or (self.wake_to_continue and self._may_continue_as_new()), timeout=timeout)
        except asyncio.TimeoutError:
            pass
        except asyncio.CancelledError:  # workflow cancellation: the DSL's cancel, applied by the loop
            self.cancel_requested = True
        self.idle = False

    async def _answer(self, request: dict[str, Any]) -> dict[str, Any]:
        clock = request.get("clock")
        if clock == "auto":
            await self._auto_advance()
            return {"envelope": envelopes.envelope(self._instance())}
        if clock is not None:
            await self._advance_by(float(clock))
            return {"envelope": envelopes.envelope(self._instance())}
        try:
            target = self._check(request)
        except (InvalidPayload, StepConflict) as exc:  # the journey moved on after the update was accepted
            return {"error": _error_doc(exc)}
        project_var = ((target.state.get(target.kind) or {}).get("response") or {}).get("outputVar")
        try:
            await self._apply({"kind": "signal", "payload": request.get("payload"), "step": request.get("step")})
        except ActivityError as exc:
            cause = exc.cause
            if isinstance(cause, ApplicationError):
                return {"error": {"message": cause.message, "type": cause.type or "StepConflict",
                                  "details": [], "hint": ""}}
            raise
        return {"envelope": envelopes.envelope(self._instance(), project_var)}

    async def _advance_by(self, seconds: float) -> None:
        target = self._now() + timedelta(seconds=seconds)
        while self.state.running:
            work = self.state.next_due()
            if work is None or _due_at(work) > target:
                break
            self._jump_to(_due_at(work))
            await self._fire(work)
        self._jump_to(target)

    async def _auto_advance(self) -> None:
        """Skip idle time spent on timers, never the time a person has to answer a step (the local rule)."""
        for _ in range(MAX_AUTO_ADVANCE):
            instance = self._instance()
            work = self.state.next_due()
            if instance.phase != "RUNNING" or envelopes.active_steps(instance) or work is None:
                return
            if work["kind"] == "step-timeout":
                return
            self._jump_to(_due_at(work))
            await self._fire(work)

    async def _fire(self, work: dict[str, Any]) -> None:
        self.state.take_due(work)
        await self._apply({"kind": work["kind"], "state": work.get("state"),
                           "branch": (work.get("data") or {}).get("branch")})

    async def _apply(self, trigger: dict[str, Any]) -> None:
        """Run the trigger in the activity and commit what it returns. Shielded: a workflow cancellation arriving
        meanwhile is noted and applied afterwards, so the effects the activity had are never lost."""
        now = self._now()
        handle = workflow.start_activity(
            ACTIVITY_NAME, {"instance": self.state.instance, "trigger": trigger, "now": now.isoformat()},
            start_to_close_timeout=timedelta(seconds=float(self.options.get("activityTimeoutSec", 60))),
            retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=10)),
        )
        try:
            result = await asyncio.shield(handle)
        except asyncio.CancelledError:
            self.cancel_requested = True
            result = await handle
        for transition in result["transitions"]:
            self.state.commit(transition, result["mockCounters"], now)
        instance = self.state.instance
        workflow.upsert_memo({"phase": instance["phase"], "currentState": instance["currentState"],
                              "updatedAt": instance["updatedAt"], "error": instance["error"]})

    # -- continue-as-new ------------------------------------------------------------------------------------
    def _may_continue_as_new(self) -> bool:
        """When Temporal suggests it (or the history passed HISTORY_LIMIT) and nothing is in flight (an update in
        progress would be lost)."""
        info = workflow.info()
        long = info.is_continue_as_new_suggested() or info.get_current_history_length() >= HISTORY_LIMIT
        return long and not self.inbox and not self.cancel_requested and workflow.all_handlers_finished()

    def _carried_over(self) -> dict[str, Any]:
        return {"instance": self.state.instance, "events": self.state.events, "due": self.state.due,
                "options": {**self.options, "autoAdvance": False}, "offsetSec": self.offset.total_seconds(),
                "continued": True}

    # -- helpers --------------------------------------------------------------------------------------------
    def _now(self) -> datetime:
        return workflow.now() + self.offset

    def _jump_to(self, moment: datetime) -> None:
        self.offset = max(self.offset, moment - workflow.now())

    def _instance(self) -> Instance:
        return instance_of(self.state.instance)

    def _check(self, request: dict[str, Any]) -> SignalTarget:
        """The interpreter's own signal check, run on the current snapshot: pure (schema and cursor only)."""
        interp = Interpreter(self.state.instance["definition"], Seams(_no_eval, _NoHttp(), self._now))
        return interp.check_signal(snapshot_of_doc(self.state.instance), request.get("payload"), request.get("step"))


def _due_at(work: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(work["dueAt"])


def _error_doc(exc: InvalidPayload | StepConflict) -> dict[str, Any]:
    return {"message": exc.message, "type": type(exc).__name__, "details": list(exc.details), "hint": exc.hint}


def _application_error(exc: InvalidPayload | StepConflict) -> ApplicationError:
    doc = _error_doc(exc)
    return ApplicationError(doc["message"], {"details": doc["details"], "hint": doc["hint"]}, type=doc["type"],
                            non_retryable=True)


def _no_eval(lang: str, expr: str, bindings: dict[str, Any]) -> Any:
    raise RuntimeError("expressions are evaluated in the activity, not in workflow code")


class _NoHttp:
    """Workflow code makes no calls: the signal check only reads the snapshot and the step's schema."""

    def request(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("HTTP calls happen in the activity, not in workflow code")

    def close(self) -> None:
        pass
