"""The parallel state: branches run in turn until each ends or pauses (wait, webhook, timer); a paused parallel
keeps every branch's position, context and due work in the instance cursor, and joins once its strategy is met."""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from jctl.engine.transitions import (
    TERMINAL_PHASES,
    Snapshot,
    StateError,
    Transition,
    http_records,
    input_next,
    timeout_next,
    timer_next,
)
from jctl.store.models import NewDueWork, NewEvent

if TYPE_CHECKING:
    from jctl.engine.states import StateExecutor

DUE_OF_TRIGGER = {"timer": "timer", "step-timeout": "step-timeout", "signal": "step-timeout"}


class ParallelState:
    """Enters a parallel state, resumes one of its paused branches, and joins the branches when they are done."""

    def __init__(self, executor: StateExecutor):
        self.executor = executor

    # -- entering and resuming ------------------------------------------------------------------------------
    def enter(self, state_id: str, state: dict[str, Any], snap: Snapshot, durable: bool) -> Transition:
        block = state.get("parallel") or {}
        records, calls = [], []
        for branch in block.get("branches") or []:
            record = {"name": str(branch.get("name")), "current": branch.get("start"),
                      "context": copy.deepcopy(snap.context), "paused": None, "phase": "RUNNING",
                      "output": None, "error": None, "due": []}
            calls += self._advance(record, branch.get("states") or {}, durable)
            records.append(record)
        return self._settle(snap, state_id, state, records, calls)

    def resume(self, snap: Snapshot, branch_name: str, trigger: str, state_id: str | None,
               payload: Any = None) -> Transition | None:
        """Continue one branch after its timer, step timeout or signal; None when the due work is stale."""
        parallel = snap.cursor.get("parallel") or {}
        parent_id = str(parallel.get("state") or "")
        parent = self.executor.interp.states.get(parent_id) or {}
        records = copy.deepcopy(parallel.get("branches") or [])
        record = next((r for r in records if r["name"] == branch_name), None)
        states = self._branch_states(parent, branch_name)
        if record is None or record["phase"] != "RUNNING" or record["current"] != state_id or state_id not in states:
            return None
        _pass_trigger(record, states[state_id], trigger, payload)
        try:
            calls = self._advance(record, states, durable=True)
            transition = self._settle(snap, parent_id, parent, records, calls)
        except StateError as exc:
            return self.executor.interp.failed(snap, {"code": exc.code, "reason": f"state {parent_id}: {exc.reason}"})
        data = {"branch": branch_name, **({"payload": payload} if trigger == "signal" else {})}
        transition.events.insert(0, NewEvent(f"branch.{trigger}", state_id, data))
        return transition

    def branch_state(self, cursor: dict[str, Any], branch_name: str, state_id: str) -> dict[str, Any]:
        """The definition of state `state_id` in a branch of the parallel the cursor is paused in."""
        parent = self.executor.interp.states.get(str((cursor.get("parallel") or {}).get("state") or "")) or {}
        found: dict[str, Any] = self._branch_states(parent, branch_name).get(state_id) or {}
        return found

    # -- internals ------------------------------------------------------------------------------------------
    @staticmethod
    def _branch_states(parent: dict[str, Any], name: str) -> dict[str, Any]:
        for branch in (parent.get("parallel") or {}).get("branches") or []:
            if str(branch.get("name")) == name:
                states: dict[str, Any] = branch.get("states") or {}
                return states
        return {}

    def _advance(self, record: dict[str, Any], states: dict[str, Any], durable: bool) -> list[Any]:
        """Run one branch until it ends or pauses, updating its record; returns the HTTP call records."""
        from jctl.clock import format_rfc3339

        calls: list[Any] = []
        for _ in range(self.executor.interp.max_transitions):
            snap = Snapshot("RUNNING", record["current"], record["context"], {"paused": None})
            transition = self.executor.execute(snap, states, mode="branch" if durable else "sync")
            calls += http_records(transition)
            after = transition.snapshot
            record.update(current=after.current_state, context=after.context)
            if after.phase in TERMINAL_PHASES:
                record.update(phase=after.phase, output=after.output, error=after.error, paused=None, due=[])
                return calls
            if transition.halts:
                record["paused"] = after.cursor.get("paused")
                record["due"] = [{"kind": d.kind, "dueAt": format_rfc3339(d.due_at), "state": d.state}
                                 for d in transition.schedule]
                return calls
        raise StateError("TRANSITION_LIMIT", f"branch {record['name']} did not pause or finish")

    def _settle(self, snap: Snapshot, state_id: str, state: dict[str, Any], records: list[dict[str, Any]],
                calls: list[Any]) -> Transition:
        from jctl.clock import parse_rfc3339

        join = (state.get("parallel") or {}).get("join") or {}
        finished = [r for r in records if r["phase"] in TERMINAL_PHASES]
        if join.get("errorPolicy") == "failFast" and any(r["phase"] == "FAILED" for r in finished):
            failed = next(r for r in finished if r["phase"] == "FAILED")
            raise StateError("BRANCH_FAILED", f"branch {failed['name']} failed (errorPolicy failFast): "
                                              f"{(failed['error'] or {}).get('reason', '')}")
        complete = len(finished) == len(records) if join.get("strategy", "allOf") == "allOf" else bool(finished)
        summary = [{"branch": r["name"], "phase": r["phase"], "at": r["current"]} for r in records]
        cursor = {k: v for k, v in snap.cursor.items() if k != "parallel"}
        if not complete:
            cursor.update(paused="parallel", parallel={"state": state_id, "branches": records})
            schedule = [NewDueWork(d["kind"], parse_rfc3339(d["dueAt"]), d["state"], {"branch": r["name"]})
                        for r in records if r["phase"] == "RUNNING" for d in r["due"]]
            event = NewEvent("parallel.waiting", state_id, {"branches": summary, "http": calls} if calls
                             else {"branches": summary})
            return Transition(replace(snap, current_state=state_id, cursor=cursor), [event], schedule,
                              cancel_due=["timer", "step-timeout"], halts=True)
        if not state.get("next"):
            raise StateError("INVALID_SPEC", "has no next state")
        context = self._join(snap.context, records, join)
        event = NewEvent("state.completed", state_id, {"type": "parallel", "next": state["next"],
                                                       "branches": summary, **({"http": calls} if calls else {})})
        after = replace(snap, context=context, current_state=str(state["next"]), cursor={**cursor, "paused": None})
        return Transition(after, [event], cancel_due=["timer", "step-timeout"])

    def _join(self, context: dict[str, Any], records: list[dict[str, Any]], join: dict[str, Any]) -> dict[str, Any]:
        outputs = {r["name"]: (r["output"] if r["phase"] == "SUCCEEDED" else
                               {"phase": r["phase"], "error": r["error"]} if r["phase"] == "FAILED" else None)
                   for r in records}
        result_var = join.get("resultVar")
        if "mapper" in join or "mapperRef" in join:
            value = self.executor.evaluate(join, context, "join", branches=outputs)
            if result_var:
                return {**context, str(result_var): value}
            return {**context, **value} if isinstance(value, dict) else context
        # Without a mapper the branches' contexts merge back into the journey context (the corpus relies on it).
        merged = copy.deepcopy(context)
        for record in records:
            if record["phase"] in TERMINAL_PHASES:
                merged = deep_merge(merged, {k: v for k, v in record["context"].items() if k != "payload"})
        if result_var:
            merged[str(result_var)] = outputs
        return merged


def _pass_trigger(record: dict[str, Any], state: dict[str, Any], trigger: str, payload: Any) -> None:
    """Move a paused branch record past the state its trigger (timer, step-timeout, signal) was for."""
    if trigger == "timer":
        record["current"] = timer_next(state)
    elif trigger == "step-timeout":
        record["current"] = timeout_next(state, record["paused"])
    else:
        record["context"] = {**record["context"], "payload": copy.deepcopy(payload)}
        record["current"] = input_next(state)
    record["paused"] = None
    record["due"] = [d for d in record["due"] if d["kind"] != DUE_OF_TRIGGER[trigger]]


def deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """`extra` over `base`, merging nested objects key by key instead of replacing them."""
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged
