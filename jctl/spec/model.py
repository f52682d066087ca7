"""Navigation over a loaded journey document: its state scopes (top level, subjourneys, parallel branches,
compensation) and its states, each with the document path checks and the engine use to refer to it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from jctl.diagnostics import DocPath

TERMINAL_TYPES = frozenset({"succeed", "fail"})
EXTERNAL_INPUT_TYPES = frozenset({"wait", "webhook"})


@dataclass(frozen=True)
class Scope:
    """A state machine: a start state and the states it may reach. `kind` names where it lives."""

    kind: str  # "top" | "subjourney" | "branch" | "compensation"
    name: str
    path: DocPath  # path of the mapping holding `start` and `states`
    start: Any
    states: dict[str, Any]

    @property
    def states_path(self) -> DocPath:
        return self.path + ("states",)

    @property
    def start_path(self) -> DocPath:
        return self.path + ("start",)


def _scope(kind: str, name: str, path: DocPath, holder: Any) -> Scope | None:
    if not isinstance(holder, dict):
        return None
    states = holder.get("states")
    return Scope(kind, name, path, holder.get("start"), states if isinstance(states, dict) else {})


def iter_scopes(document: Any) -> Iterator[Scope]:
    """Every state machine in a journey document, outer scopes before the branches nested in them."""
    spec = document.get("spec") if isinstance(document, dict) else None
    if not isinstance(spec, dict):
        return
    roots: list[Scope | None] = [_scope("top", "spec", ("spec",), spec)]
    subjourneys = spec.get("subjourneys")
    if isinstance(subjourneys, dict):
        roots += [_scope("subjourney", name, ("spec", "subjourneys", name), body) for name, body in subjourneys.items()]
    roots.append(_scope("compensation", "compensation", ("spec", "compensation"), spec.get("compensation")))
    pending = [scope for scope in roots if scope is not None]
    while pending:
        scope = pending.pop(0)
        yield scope
        pending[0:0] = list(_branch_scopes(scope))


def _branch_scopes(scope: Scope) -> Iterator[Scope]:
    for state_id, state in scope.states.items():
        if not isinstance(state, dict) or state.get("type") != "parallel":
            continue
        parallel = state.get("parallel")
        branches = parallel.get("branches") if isinstance(parallel, dict) else None
        if not isinstance(branches, list):
            continue
        for index, branch in enumerate(branches):
            name = branch.get("name", str(index)) if isinstance(branch, dict) else str(index)
            path = scope.states_path + (state_id, "parallel", "branches", index)
            branch_scope = _scope("branch", f"{state_id}/{name}", path, branch)
            if branch_scope is not None:
                yield branch_scope


@dataclass(frozen=True)
class StateRef:
    scope: Scope
    state_id: str
    state: dict[str, Any]

    @property
    def path(self) -> DocPath:
        return self.scope.states_path + (self.state_id,)

    @property
    def type(self) -> Any:
        return self.state.get("type")


def iter_states(document: Any) -> Iterator[StateRef]:
    for scope in iter_scopes(document):
        for state_id, state in scope.states.items():
            if isinstance(state, dict):
                yield StateRef(scope, state_id, state)


def state_targets(state: dict[str, Any]) -> Iterator[tuple[DocPath, Any]]:
    """Each (relative path, target id) a state may transition to within its own scope.

    `default:` inside a wait/webhook block is the corpus's legacy spelling of the state-level `next:`; a `next:`
    written inside the state's own block (`wait:`, `transform:`...) is read as the state's (misplaced-field reports
    it once, instead of every state after it also looking unreachable).
    """
    if "next" in state:
        yield ("next",), state["next"]
    else:
        block_name = state.get("type")
        block = state.get(block_name) if isinstance(block_name, str) else None
        if isinstance(block_name, str) and isinstance(block, dict) and "next" in block:
            yield (block_name, "next"), block["next"]
    if "default" in state:
        yield ("default",), state["default"]
    choices = state.get("choices")
    if isinstance(choices, list):
        for index, choice in enumerate(choices):
            if isinstance(choice, dict) and "next" in choice:
                yield ("choices", index, "next"), choice["next"]
    for block in ("wait", "webhook"):
        body = state.get(block)
        if isinstance(body, dict):
            if "onTimeout" in body:
                yield (block, "onTimeout"), body["onTimeout"]
            if "default" in body:
                yield (block, "default"), body["default"]
    if "onTimeout" in state:
        yield ("onTimeout",), state["onTimeout"]


def iter_expression_sites(data: Any, path: DocPath = ()) -> Iterator[tuple[DocPath, dict[str, Any]]]:
    """Every mapping with string `lang` and `expr` keys, wherever it sits (predicates, mappers, spec.mappers...)."""
    if isinstance(data, dict):
        if isinstance(data.get("lang"), str) and isinstance(data.get("expr"), str):
            yield path, data
        for key, value in data.items():
            yield from iter_expression_sites(value, path + (key,))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from iter_expression_sites(value, path + (index,))


def node_at(data: Any, path: DocPath, default: Any = None) -> Any:
    """The value at a document path, or `default` when the path leads nowhere."""
    for part in path:
        if isinstance(data, dict) and isinstance(part, str) and part in data:
            data = data[part]
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        else:
            return default
    return data


def json_type(value: Any) -> str:
    """How a JSON value is named in messages: `a string`, `a list`, `null`…"""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "a mapping"
