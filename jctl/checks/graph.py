"""Control-flow rules over each state machine (top level, subjourneys, parallel branches, compensation):
transition targets that exist, states that are reached, paths that end, and what a start call or schedule reaches."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from typing import Any

from jctl.checks import SpecFile, check
from jctl.checks.placement import nested_states
from jctl.checks.traverse import iter_tasks, spec_kind, type_of
from jctl.diagnostics import Finding, Severity
from jctl.spec.model import (
    EXTERNAL_INPUT_TYPES,
    TERMINAL_TYPES,
    Scope,
    StateRef,
    iter_scopes,
    state_targets,
)


def describe_scope(scope: Scope) -> str:
    if scope.kind == "top":
        return "spec.states"
    if scope.kind == "subjourney":
        return f"subjourney `{scope.name}`"
    if scope.kind == "branch":
        return f"parallel branch `{scope.name}`"
    return "spec.compensation.states"


def successors(state: Any) -> list[str]:
    if not isinstance(state, dict):
        return []
    return [target for _, target in state_targets(state) if isinstance(target, str)]


def reachable_ids(scope: Scope, roots: Iterable[Any]) -> list[str]:
    """State ids of `scope` reachable from `roots` (ids outside the scope are ignored), in visiting order."""
    seen: dict[str, None] = {}
    pending = [root for root in roots if isinstance(root, str) and root in scope.states]
    while pending:
        state_id = pending.pop()
        if state_id in seen:
            continue
        seen[state_id] = None
        pending.extend(t for t in reversed(successors(scope.states[state_id])) if t in scope.states)
    return list(seen)


class ScopeIndex:
    """Every scope of a document, so a parallel or subjourney state can be followed into the machines it runs."""

    def __init__(self, document: Any):
        self.scopes = list(iter_scopes(document))
        self.subjourneys = {scope.name: scope for scope in self.scopes if scope.kind == "subjourney"}
        self.top = next((scope for scope in self.scopes if scope.kind == "top"), None)

    def inner_scopes(self, scope: Scope, state_id: str, state: dict[str, Any]) -> list[Scope]:
        if state.get("type") == "parallel":
            prefix = scope.states_path + (state_id, "parallel", "branches")
            return [inner for inner in self.scopes if inner.kind == "branch" and inner.path[:-1] == prefix]
        if state.get("type") == "subjourney":
            body = state.get("subjourney")
            ref = body.get("ref") if isinstance(body, dict) else None
            inner = self.subjourneys.get(ref) if isinstance(ref, str) else None
            return [inner] if inner is not None else []
        return []

    def reachable_states(self, scope: Scope, roots: Iterable[Any]) -> Iterator[StateRef]:
        """States reachable from `roots`, following parallel branches and subjourney calls into their machines."""
        visited_scopes: set[tuple[Any, ...]] = set()
        pending: list[tuple[Scope, list[Any]]] = [(scope, list(roots))]
        while pending:
            current, current_roots = pending.pop(0)
            for state_id in reachable_ids(current, current_roots):
                state = current.states[state_id]
                if not isinstance(state, dict):
                    continue
                yield StateRef(current, state_id, state)
                for inner in self.inner_scopes(current, state_id, state):
                    if inner.path not in visited_scopes:
                        visited_scopes.add(inner.path)
                        pending.append((inner, [inner.start]))


def _suggestion(target: str, scope: Scope) -> str:
    close = difflib.get_close_matches(target, [str(k) for k in scope.states], n=1, cutoff=0.6)
    if close:
        return f"did you mean `{close[0]}`?"
    known = ", ".join(f"`{k}`" for k in list(scope.states)[:8])
    return f"point it at a state defined in this scope ({known})" if known else "define the state under `states`"


def _scope_note(scope: Scope) -> str:
    if scope.kind == "top":
        return ""
    return " (a scope's transitions stay inside its own `states` map)"


@check("unknown-state", "error", "A start or transition target names a state that does not exist in its scope.")
def unknown_state(spec: SpecFile) -> Iterator[Finding]:
    index = ScopeIndex(spec.data)
    for scope in index.scopes:
        if isinstance(scope.start, str) and scope.start not in scope.states:
            yield Finding(
                scope.start_path,
                f"start state `{scope.start}` is not defined in {describe_scope(scope)}",
                _suggestion(scope.start, scope),
            )
        nested = nested_states(scope.states)  # misplaced-state reports these once
        for state_id, state in scope.states.items():
            if not isinstance(state, dict):
                continue
            for relative, target in state_targets(state):
                if isinstance(target, str) and target not in scope.states and target not in nested:
                    field = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in relative).lstrip(".")
                    yield Finding(
                        scope.states_path + (state_id,) + relative,
                        f"`{field}` of state `{state_id}` names `{target}`, which is not a state in "
                        f"{describe_scope(scope)}{_scope_note(scope)}",
                        _suggestion(target, scope),
                    )
    yield from _unknown_schedule_starts(spec, index)


def _unknown_schedule_starts(spec: SpecFile, index: ScopeIndex) -> Iterator[Finding]:
    if index.top is None:
        return
    for ref, task in iter_tasks(spec, "schedule:v1"):
        start = task.get("start")
        if isinstance(start, str) and start not in index.top.states:
            yield Finding(
                ref.path + ("task", "start"),
                f"schedule start `{start}` is not a state in spec.states (scheduled runs start at a top-level state)",
                _suggestion(start, index.top),
            )


def _extra_roots(spec: SpecFile, scope: Scope) -> list[str]:
    """Scheduled runs enter the top-level machine at each schedule task's `start`."""
    if scope.kind != "top":
        return []
    return [task["start"] for _, task in iter_tasks(spec, "schedule:v1") if isinstance(task.get("start"), str)]


@check("unreachable-state", "warning", "A state that no path from its scope's start reaches.")
def unreachable_state(spec: SpecFile) -> Iterator[Finding]:
    for scope in iter_scopes(spec.data):
        if not isinstance(scope.start, str) or scope.start not in scope.states:
            continue  # unknown-state reports the start; everything would look unreachable
        nested = [target for state in nested_states(scope.states).values() for target in successors(state)]
        reached = set(reachable_ids(scope, [scope.start, *_extra_roots(spec, scope), *nested]))
        for state_id in scope.states:
            if state_id not in reached:
                yield Finding(
                    scope.states_path + (state_id,),
                    f"state `{state_id}` is never reached from `{scope.start}` in {describe_scope(scope)}",
                    "remove it, or add a transition (`next`, a choice branch, `default`, `onTimeout`) that leads to it",
                    at="key",
                )


def _states_that_end(scope: Scope) -> set[str]:
    """States from which some path reaches succeed/fail (or leaves the graph, which other rules report)."""
    predecessors: dict[str, list[str]] = {state_id: [] for state_id in scope.states}
    ending: list[str] = []
    for state_id, state in scope.states.items():
        targets = [target for _, target in state_targets(state)] if isinstance(state, dict) else []
        known = [t for t in targets if isinstance(t, str) and t in scope.states]
        is_terminal = type_of(state) in TERMINAL_TYPES
        if is_terminal or not isinstance(state, dict) or len(known) < len(targets) or not targets:
            ending.append(state_id)
        for target in known:
            predecessors[target].append(state_id)
    ends: set[str] = set()
    while ending:
        state_id = ending.pop()
        if state_id not in ends:
            ends.add(state_id)
            ending.extend(predecessors[state_id])
    return ends


@check(
    "no-terminal-path",
    "error",
    "A state from which no succeed/fail state can be reached (a loop with no exit); a warning in kind: Journey.",
)
def no_terminal_path(spec: SpecFile) -> Iterator[Finding]:
    severity = Severity.ERROR if spec_kind(spec) == "Api" else Severity.WARNING
    for scope in iter_scopes(spec.data):
        ends = _states_that_end(scope)
        if len(ends) == len(scope.states):
            continue
        has_start = isinstance(scope.start, str) and scope.start in scope.states
        roots = [scope.start, *_extra_roots(spec, scope)]
        reached = set(reachable_ids(scope, roots)) if has_start else set(scope.states)
        for trap in _traps(scope, ends):
            entries = [s for s in trap if s in reached and _entered_from_outside(scope, s, trap, reached)]
            if not entries:
                continue  # unreachable-state reports these
            yield Finding(
                scope.states_path + (entries[0],),
                f"no path from state `{entries[0]}` reaches a succeed or fail state; it cycles through "
                + ", ".join(f"`{s}`" for s in trap),
                "add an exit from the loop (a choice branch or `onTimeout` leading to succeed/fail), "
                "bounded by a counter in context",
                at="key",
                severity=severity,
            )


def _traps(scope: Scope, ends: set[str]) -> list[list[str]]:
    """Closed loops among states that cannot end: groups that reach only each other (bottom components)."""
    closures = {s: set(reachable_ids(scope, [s])) for s in scope.states if s not in ends}
    traps: list[list[str]] = []
    placed: set[str] = set()
    for state_id, closure in closures.items():
        if state_id in placed or not all(state_id in closures.get(other, ()) for other in closure):
            continue
        trap = [s for s in scope.states if s in closure]
        placed.update(trap)
        traps.append(trap)
    return traps


def _entered_from_outside(scope: Scope, state_id: str, trap: list[str], reached: set[str]) -> bool:
    if state_id == scope.start:
        return True
    return any(
        other_id in reached and other_id not in trap and state_id in successors(other)
        for other_id, other in scope.states.items()
    )


def _first_timers(index: ScopeIndex, scope: Scope, start: Any, seen: set[Any]) -> tuple[list[StateRef], bool]:
    """Timers reached from `start` before any terminal or wait/webhook state, and whether a pause is reachable.

    A parallel or subjourney state whose machines can pause at a wait/webhook ends the synchronous segment there;
    otherwise control flows through their machines and on to `next`.
    """
    timers: list[StateRef] = []
    pauses = False
    pending = [start] if isinstance(start, str) else []
    while pending:
        state_id = pending.pop()
        if (scope.path, state_id) in seen or state_id not in scope.states:
            continue
        seen.add((scope.path, state_id))
        state = scope.states[state_id]
        if not isinstance(state, dict):
            continue
        kind = type_of(state)
        if kind in TERMINAL_TYPES:
            continue
        if kind in EXTERNAL_INPUT_TYPES:
            pauses = True
            continue
        if kind == "timer":
            timers.append(StateRef(scope, state_id, state))
            continue
        inner_timers, inner_pauses = _inner_first_timers(index, scope, state_id, state, seen)
        if inner_pauses and kind == "parallel":
            pauses = True  # the start call returns at the branch's pause; sibling timers run on in the background
            continue
        timers += inner_timers
        if inner_pauses:
            pauses = True
            continue
        pending.extend(successors(state))
    return timers, pauses


def _inner_first_timers(
    index: ScopeIndex, scope: Scope, state_id: str, state: dict[str, Any], seen: set[Any]
) -> tuple[list[StateRef], bool]:
    """`_first_timers` over the branches or subjourney a state runs, each machine visited once."""
    timers: list[StateRef] = []
    pauses = False
    for inner in index.inner_scopes(scope, state_id, state):
        if inner.path in seen:
            continue
        seen.add(inner.path)
        found, paused = _first_timers(index, inner, inner.start, seen)
        timers += found
        pauses = pauses or paused
    return timers, pauses


def _start_mode(spec: SpecFile) -> Any:
    top = spec.data.get("spec") if isinstance(spec.data, dict) else None
    lifecycle = top.get("lifecycle") if isinstance(top, dict) else None
    return lifecycle.get("startMode", "sync") if isinstance(lifecycle, dict) else "sync"


@check(
    "sync-start-timer",
    "warning",
    "A journey with synchronous start (the default) whose control flow reaches a timer before pausing or ending.",
)
def sync_start_timer(spec: SpecFile) -> Iterator[Finding]:
    if spec_kind(spec) != "Journey" or _start_mode(spec) != "sync":
        return
    index = ScopeIndex(spec.data)
    if index.top is None:
        return
    timers, _ = _first_timers(index, index.top, index.top.start, set())
    for timer in timers:
        yield Finding(
            timer.path,
            f"timer `{timer.state_id}` can be reached from spec.start before any succeed/fail/wait/webhook state, "
            "so a synchronous start call would have to wait for it",
            "set `spec.lifecycle.startMode: async`, or move the timer after the first wait/webhook state",
            at="key",
        )


@check(
    "schedule-interactive",
    "error",
    "States reachable from a schedule:v1 task's start include wait/webhook; scheduled runs are non-interactive.",
)
def schedule_interactive(spec: SpecFile) -> Iterator[Finding]:
    index = ScopeIndex(spec.data)
    if index.top is None:
        return
    for ref, task in iter_tasks(spec, "schedule:v1"):
        start = task.get("start")
        if not isinstance(start, str) or start not in index.top.states:
            continue
        reachable = index.reachable_states(index.top, [start])
        interactive = [s for s in reachable if type_of(s.state) in EXTERNAL_INPUT_TYPES]
        if interactive:
            names = ", ".join(f"`{s.state_id}` ({s.type})" for s in interactive)
            yield Finding(
                ref.path + ("task", "start"),
                f"scheduled runs start at `{start}` and can reach {names}; scheduled runs cannot take external input",
                "start scheduled runs at a state whose reachable states have no wait/webhook (use a timer for delays)",
            )
