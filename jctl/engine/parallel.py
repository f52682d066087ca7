"""Nested graphs that may pause: parallel branches and subjourneys. Entering one runs its records (one per branch,
one for a subjourney) until each ends or pauses; a paused one is kept as a *frame* in the cursor of its owner
(the instance, or the record of an enclosing branch or subjourney), so pauses nest to any depth:

    frame  = {kind: parallel|subjourney, state: <owner's state id>, branches: [record, ...]}
    record = {name, current, context, phase, output, error, paused, due, <paused kind>: frame}

A trigger (signal, timer, step timeout) names its record by path (`outer/inner`, branch names or the subjourney
ref), resumes it, and each enclosing frame is re-decided on the way back up."""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from jctl.engine.cursor import FRAME_KINDS, LEAF_PAUSES, unpaused_cursor
from jctl.engine.transitions import (
    TERMINAL_PHASES,
    Effects,
    Snapshot,
    StateError,
    Transition,
    input_next,
    timeout_next,
    timer_next,
)
from jctl.store.models import NewDueWork, NewEvent

if TYPE_CHECKING:
    from jctl.engine.roles import Executor

DUE_OF_TRIGGER = {"timer": "timer", "step-timeout": "step-timeout", "signal": "step-timeout", "retry": "retry"}
PAUSE_OF_TRIGGER = {"timer": ("timer",), "step-timeout": ("wait", "webhook"), "signal": ("wait", "webhook"),
                    "retry": ("retry",)}
Result = tuple[str, Any]  # ("next", context) or ("fail", error)


def new_record(name: str, start: Any, context: dict[str, Any]) -> dict[str, Any]:
    """A nested graph's record at its start state (a branch, a subjourney, a guard or a compensation graph)."""
    return {"name": name, "current": start, "context": context, "paused": None, "phase": "RUNNING",
            "output": None, "error": None, "due": []}


class ParallelState:
    """Enters parallel and subjourney states, resumes a paused record by path, and joins decided frames."""

    def __init__(self, executor: Executor):
        self.executor = executor

    # -- entering -------------------------------------------------------------------------------------------
    def enter(self, state_id: str, state: dict[str, Any], snap: Snapshot) -> Transition:
        block = state.get("parallel") or {}
        frame: dict[str, Any] = {"kind": "parallel", "state": state_id, "branches": []}
        branches = [b for b in block.get("branches") or [] if isinstance(b, dict)]
        frame["branches"] = [new_record(str(b.get("name")), b.get("start"), copy.deepcopy(snap.context))
                             for b in branches]
        effects = Effects()
        for record, branch in zip(frame["branches"], branches):
            if self._decided(frame, state):
                break  # the join is decided: the branches not yet run are cancelled before they start
            effects += self.advance(record, branch.get("states") or {})
        return self._settle(snap, frame, state, effects, entering=True)

    def enter_subjourney(self, state_id: str, state: dict[str, Any], snap: Snapshot) -> Transition:
        block = state.get("subjourney") or {}
        graph = (self.executor.spec.get("subjourneys") or {}).get(block.get("ref"))
        if not isinstance(graph, dict):
            raise StateError("INVALID_SPEC", f"subjourney {block.get('ref')!r} is not in spec.subjourneys")
        initial = self.executor.evaluate(block["input"], snap.context, "subjourney.input") if block.get("input") \
            else {}
        if not isinstance(initial, dict):
            raise StateError("EXPRESSION_ERROR", "subjourney input mapper must return an object")
        record = new_record(str(block.get("ref")), graph.get("start"), initial)
        effects = self.advance(record, graph.get("states") or {})
        frame = {"kind": "subjourney", "state": state_id, "branches": [record]}
        return self._settle(snap, frame, state, effects, entering=True)

    # -- resuming -------------------------------------------------------------------------------------------
    def resume(self, snap: Snapshot, path: str, trigger: str, state_id: str | None,
               payload: Any = None) -> Transition | None:
        """Continue the record at `path` after its timer, step timeout or signal; None when the trigger is stale."""
        kind = snap.cursor.get("paused")
        frame = snap.cursor.get(str(kind)) if kind in FRAME_KINDS else None
        if not isinstance(frame, dict):
            return None
        frame = _own_frame(frame)  # copied along the trigger's path only: a wide parallel is not copied whole
        parent = self.executor.interp.states.get(str(frame.get("state"))) or {}
        effects = Effects()
        self.executor.begin_transition()
        try:
            if not self._resume_in(frame, parent, path.split("/"), trigger, state_id, payload, effects):
                return None
            transition = self._settle(snap, frame, parent, effects, entering=False, changed=path)
        except StateError as exc:
            return self.executor.interp.failed(snap, {"code": exc.code, "reason": f"state {frame.get('state')}: "
                                                                                  f"{exc.reason}"})
        data = {"branch": path, **({"payload": payload} if trigger == "signal" else {}),
                **({"next": effects.trigger_next} if effects.trigger_next and trigger != "retry" else {})}
        transition.events.insert(0, NewEvent(f"branch.{trigger}", state_id, data))
        return transition

    def _resume_in(self, frame: dict[str, Any], parent: dict[str, Any], path: list[str], trigger: str,
                   state_id: str | None, payload: Any, effects: Effects) -> bool:
        record = _own_record(frame, path[0])
        if record is None or record["phase"] != "RUNNING":
            return False
        states = self.child_states(parent, record["name"])
        if len(path) == 1:
            if record["current"] != state_id or record["paused"] not in PAUSE_OF_TRIGGER[trigger] \
                    or state_id not in states:
                return False
            _pass_trigger(record, states[str(state_id)], trigger, payload)
            effects.trigger_next = record["current"]
        else:
            kind = record["paused"]
            child = record.get(kind) if kind in FRAME_KINDS else None
            if not isinstance(child, dict):
                return False
            child = record[kind] = _own_frame(child)
            child_parent = states.get(str(child.get("state"))) or {}
            nested = Effects()
            if not self._resume_in(child, child_parent, path[1:], trigger, state_id, payload, nested):
                return False
            effects += nested.under(str(record["name"]))
            if not self._decided(child, child_parent):
                return True
            _finish_record_frame(record, child_parent, self._result(child, child_parent, record["context"]))
        if record["phase"] == "RUNNING":
            mine = Effects()
            self._advance(record, states, mine)
            effects += mine.under(str(record["name"]))
        return True

    # -- queries --------------------------------------------------------------------------------------------
    def child_states(self, parent: dict[str, Any], name: str) -> dict[str, Any]:
        """The state map a record of the frame opened by state `parent` runs in."""
        if parent.get("type") == "subjourney":
            ref = (parent.get("subjourney") or {}).get("ref")
            graph = (self.executor.spec.get("subjourneys") or {}).get(ref) or {}
            found: dict[str, Any] = graph.get("states") or {}
            return found
        for branch in (parent.get("parallel") or {}).get("branches") or []:
            if isinstance(branch, dict) and str(branch.get("name")) == name:
                states: dict[str, Any] = branch.get("states") or {}
                return states
        return {}

    def branch_state(self, cursor: dict[str, Any], path: str, state_id: str) -> dict[str, Any]:
        """The definition of state `state_id` in the record at `path` of the frames the cursor is paused in."""
        frame = cursor.get(str(cursor.get("paused"))) or {}
        parent = self.executor.interp.states.get(str(frame.get("state"))) or {}
        names = path.split("/")
        for depth, name in enumerate(names):
            states = self.child_states(parent, name)
            if depth == len(names) - 1:
                found: dict[str, Any] = states.get(state_id) or {}
                return found
            record = _find(frame, name) or {}
            frame = record.get(str(record.get("paused"))) or {}
            parent = states.get(str(frame.get("state"))) or {}
        return {}

    # -- running records ------------------------------------------------------------------------------------
    def advance(self, record: dict[str, Any], states: dict[str, Any]) -> Effects:
        """Run one record until it ends or pauses, updating it; returns what its steps did (history events, HTTP
        call records, store writes) for the owner's transition to carry."""
        effects = Effects()
        self._advance(record, states, effects)
        return effects.under(str(record["name"]))

    def _advance(self, record: dict[str, Any], states: dict[str, Any], effects: Effects) -> None:
        from jctl.clock import format_rfc3339

        for _ in range(self.executor.interp.max_transitions):
            retry = {"retry": record["retry"]} if record.get("retry") else {}
            snap = Snapshot("RUNNING", record["current"], record["context"], {"paused": None, **retry})
            transition = self.executor.execute(snap, states, mode="branch")
            effects.add(transition)
            after = transition.snapshot
            record.update(current=after.current_state, context=after.context, retry=after.cursor.get("retry"))
            if after.phase in TERMINAL_PHASES:
                record.update(phase=after.phase, output=after.output, error=after.error, paused=None, due=[])
                return
            if transition.halts:
                kind = after.cursor.get("paused")
                record["paused"] = kind
                if kind in FRAME_KINDS:
                    record[str(kind)] = after.cursor.get(str(kind))
                record["due"] = [{"kind": d.kind, "dueAt": format_rfc3339(d.due_at), "state": d.state}
                                 for d in transition.schedule] if kind in LEAF_PAUSES else []
                return
        raise StateError("TRANSITION_LIMIT", f"branch {record['name']} did not pause or finish")

    def _decided(self, frame: dict[str, Any], parent: dict[str, Any]) -> bool:
        """Whether the frame's join is met; when it is, the records still running are cancelled."""
        records = frame["branches"]
        ended = [r for r in records if r["phase"] in TERMINAL_PHASES]
        join = (parent.get("parallel") or {}).get("join") or {}
        strategy = join.get("strategy", "allOf") if frame["kind"] == "parallel" else "allOf"
        if join.get("errorPolicy") == "failFast" and any(r["phase"] == "FAILED" for r in ended):
            decided = True
        elif strategy == "firstCompleted":
            decided = bool(ended)
        elif strategy == "anyOf":
            decided = any(r["phase"] == "SUCCEEDED" for r in ended) or len(ended) == len(records)
        else:
            decided = len(ended) == len(records)
        if decided:  # new record dicts: the old ones may be shared with the snapshot the trigger started from
            frame["branches"] = [r if r["phase"] != "RUNNING" else
                                 {**{k: v for k, v in r.items() if k not in FRAME_KINDS},
                                  "phase": "CANCELLED", "paused": None, "due": []} for r in records]
        return decided

    def _result(self, frame: dict[str, Any], parent: dict[str, Any], context: dict[str, Any]) -> Result:
        """What a decided frame does to its owner: continue with a new context, or fail with an error."""
        if frame["kind"] == "subjourney":
            return self._subjourney_result(frame["branches"][0], parent, context)
        join = (parent.get("parallel") or {}).get("join") or {}
        records = frame["branches"]
        failed = [r for r in records if r["phase"] == "FAILED"]
        policy = join.get("errorPolicy", "collectAll")
        has_mapper = "mapper" in join or "mapperRef" in join
        succeeded = any(r["phase"] == "SUCCEEDED" for r in records)
        strategy = join.get("strategy", "allOf")
        if failed and (policy == "failFast" or (policy == "collectAll" and not has_mapper and
                                                (strategy == "allOf" or not succeeded))):
            reasons = "; ".join(f"{r['name']}: {(r['error'] or {}).get('code', '')} "
                                f"{(r['error'] or {}).get('reason', '')}".strip() for r in failed)
            return "fail", {"code": "BRANCH_FAILED", "reason": f"state {frame['state']}: branch failed "
                                                               f"(errorPolicy {policy}): {reasons}"}
        return "next", self._join(context, records, join)

    @staticmethod
    def _subjourney_result(record: dict[str, Any], parent: dict[str, Any], context: dict[str, Any]) -> Result:
        block = parent.get("subjourney") or {}
        phase = record["phase"]
        capture = (block.get("onFailure") or {}).get("behavior") == "capture"
        if phase != "SUCCEEDED" and not capture:
            return "fail", record["error"] or {"code": "SUBJOURNEY_FAILED", "reason": ""}
        if not block.get("resultVar"):
            return "next", context
        return "next", {**context, str(block["resultVar"]): subjourney_result(block, phase, record["output"],
                                                                              record["error"])}

    def _join(self, context: dict[str, Any], records: list[dict[str, Any]], join: dict[str, Any]) -> dict[str, Any]:
        branches = {r["name"]: branch_view(r) for r in records}
        result_var = join.get("resultVar")
        if "mapper" in join or "mapperRef" in join:
            value = self.executor.evaluate(join, context, "join", branches=branches)
            if result_var:
                return {**context, str(result_var): value}
            return {**context, **value} if isinstance(value, dict) else context
        # Without a mapper the ended branches' contexts merge back into the journey context (the corpus relies on it).
        merged = copy.deepcopy(context)
        ignore_failed = join.get("errorPolicy") == "ignoreErrors"
        for record in records:
            if record["phase"] == "SUCCEEDED" or (record["phase"] == "FAILED" and not ignore_failed):
                merged = deep_merge(merged, {k: v for k, v in record["context"].items() if k != "payload"})
        if result_var:
            merged[str(result_var)] = branches
        return merged

    # -- the owner's transition -----------------------------------------------------------------------------
    def _settle(self, snap: Snapshot, frame: dict[str, Any], parent: dict[str, Any], effects: Effects, *,
                entering: bool, changed: str | None = None) -> Transition:
        # the steps of the records are recorded as their own events (HTTP calls included), before the owner's
        state_id, kind = str(frame["state"]), str(frame["kind"])
        if not self._decided(frame, parent):
            cursor = {**unpaused_cursor(snap.cursor), "paused": kind, kind: frame}
            # the first event lists every record; later ones only the records the trigger changed (issue: history
            # must not grow with the number of branches on every move)
            data = {"branches": summary(frame)} if entering else {"changed": changed_summary(frame, changed)}
            event = NewEvent(f"{kind}.waiting", state_id, data)
            return Transition(replace(snap, current_state=state_id, cursor=cursor), [*effects.events, event],
                              collect_due(frame), cancel_due=["timer", "step-timeout", "retry"], halts=True,
                              writes=effects.writes)
        outcome, value = self._result(frame, parent, snap.context)
        cursor = unpaused_cursor(snap.cursor)
        if outcome == "fail":
            failed = self.executor.interp.failed(replace(snap, current_state=state_id, cursor=cursor), value)
            failed.events[0].data["branches"] = summary(frame)
            failed.events[:0] = effects.events
            failed.writes = effects.writes  # the steps before the failure ran: their effects stand, as at top level
            return failed
        nxt = parent.get("next")
        if not nxt:
            raise StateError("INVALID_SPEC", "has no next state")
        completed: dict[str, Any] = {"type": parent.get("type"), "next": nxt, "branches": summary(frame)}
        after = replace(snap, context=value, current_state=str(nxt), cursor=cursor)
        return Transition(after, [*effects.events, NewEvent("state.completed", state_id, completed)],
                          cancel_due=["timer", "step-timeout", "retry"], writes=effects.writes)


def _own_frame(frame: dict[str, Any]) -> dict[str, Any]:
    """A copy of the frame whose list of records may be changed (the records themselves are still shared)."""
    return {**frame, "branches": list(frame.get("branches") or [])}


def _own_record(frame: dict[str, Any], name: str) -> dict[str, Any] | None:
    """The named record, replaced in `frame` (an owned frame) by a shallow copy that may be changed."""
    for index, record in enumerate(frame["branches"]):
        if record.get("name") == name:
            frame["branches"][index] = copy.copy(record)
            owned: dict[str, Any] = frame["branches"][index]
            return owned
    return None


def _find(frame: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next((r for r in frame.get("branches") or [] if r.get("name") == name), None)


def _finish_record_frame(record: dict[str, Any], parent: dict[str, Any], result: Result) -> None:
    """A record's nested frame was decided: the record continues after the composite state, or fails there."""
    outcome, value = result
    kind = str(record["paused"])
    record.pop(kind, None)
    record["paused"] = None
    if outcome == "fail":
        record.update(phase="FAILED", error=value, due=[])
        return
    nxt = parent.get("next")
    if not nxt:
        raise StateError("INVALID_SPEC", f"state {record['current']} has no next state")
    record.update(context=value, current=str(nxt))


def _pass_trigger(record: dict[str, Any], state: dict[str, Any], trigger: str, payload: Any) -> None:
    """Move a paused record past the state its trigger (timer, step-timeout, signal) was for."""
    if trigger == "retry":
        pass  # the task state runs again; record["retry"] holds the attempt it is at
    elif trigger == "timer":
        record["current"] = timer_next(state)
    elif trigger == "step-timeout":
        record["current"] = timeout_next(state, record["paused"])
    else:
        record["context"] = {**record["context"], "payload": copy.deepcopy(payload)}
        record["current"] = input_next(state)
    record["paused"] = None
    record["due"] = [d for d in record["due"] if d["kind"] != DUE_OF_TRIGGER[trigger]]


def collect_due(frame: dict[str, Any], prefix: str = "") -> list[NewDueWork]:
    """The due work of every running record under `frame`, each naming its record's path."""
    from jctl.clock import parse_rfc3339

    found: list[NewDueWork] = []
    for record in frame.get("branches") or []:
        if record["phase"] != "RUNNING":
            continue
        path = f"{prefix}/{record['name']}" if prefix else str(record["name"])
        found += [NewDueWork(d["kind"], parse_rfc3339(d["dueAt"]), d["state"], {"branch": path})
                  for d in record["due"]]
        child = record.get(str(record["paused"])) if record["paused"] in FRAME_KINDS else None
        if isinstance(child, dict):
            found += collect_due(child, path)
    return found


def summary(frame: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"branch": r["name"], "phase": r["phase"], "at": r["current"]} for r in frame.get("branches") or []]


def changed_summary(frame: dict[str, Any], path: str | None) -> list[dict[str, Any]]:
    """The records along `path` (the only ones a trigger changes), outermost first."""
    found: list[dict[str, Any]] = []
    walked: list[str] = []
    for name in (path or "").split("/"):
        record = _find(frame, name)
        if record is None:
            break
        walked.append(name)
        found.append({"branch": "/".join(walked), "phase": record["phase"], "at": record["current"]})
        frame = record.get(str(record["paused"])) or {}
    return found


def branch_view(record: dict[str, Any]) -> dict[str, Any]:
    """`branches.<name>` in a join mapper."""
    return {"phase": record["phase"], "output": record["output"], "error": record["error"],
            "context": record["context"]}


def subjourney_result(block: dict[str, Any], phase: str, output: Any, error: dict[str, Any] | None) -> Any:
    """What `resultVar` receives: the output, or with `resultKind: outcome` the whole outcome."""
    succeeded = phase == "SUCCEEDED"
    if block.get("resultKind") != "outcome":
        return output if succeeded else None
    return {"phase": phase, "terminationKind": "Success" if succeeded else "Fail",
            "output": output if succeeded else None, "error": error or {"code": None, "reason": None}}


def deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """`extra` over `base`, merging nested objects key by key instead of replacing them."""
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged
