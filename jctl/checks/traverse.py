"""Traversal helpers the rule modules share: every node of a subtree, the `spec:` body, task states by kind and
the type-named block of a state, each tolerant of malformed documents (the schema check reports those)."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import Any

from jctl.checks import SpecFile
from jctl.diagnostics import DocPath
from jctl.spec.model import StateRef, iter_states


def walk(value: Any, path: DocPath) -> Iterator[tuple[DocPath, Any]]:
    """Every node under `value` (itself included), depth first, with its document path."""
    pending: list[tuple[DocPath, Any]] = [(path, value)]
    while pending:
        node_path, node = pending.pop()
        yield node_path, node
        if isinstance(node, dict):
            pending.extend((node_path + (key,), child) for key, child in reversed(node.items()))
        elif isinstance(node, list):
            pending.extend((node_path + (i,), child) for i, child in reversed(list(enumerate(node))))


def spec_body(spec: SpecFile) -> dict[str, Any]:
    """The `spec:` mapping, or an empty one when it is missing or malformed (the schema check reports that)."""
    body = spec.data.get("spec") if isinstance(spec.data, dict) else None
    return body if isinstance(body, dict) else {}


def iter_tasks(spec: SpecFile, kind: str | None = None) -> Iterator[tuple[StateRef, dict[str, Any]]]:
    """Each task state with its `task` block, optionally only those of one task `kind`."""
    for ref in iter_states(spec.data):
        task = ref.state.get("task")
        if ref.type == "task" and isinstance(task, dict) and (kind is None or task.get("kind") == kind):
            yield ref, task


def iter_http_tasks(spec: SpecFile) -> Iterator[tuple[StateRef, dict[str, Any]]]:
    return iter_tasks(spec, "httpCall:v1")


def iter_blocks(spec: SpecFile, types: Collection[str]) -> Iterator[tuple[StateRef, dict[str, Any]]]:
    """The type-named block of each state of one of `types` (`wait:` of a wait state, ...)."""
    for ref in iter_states(spec.data):
        if not isinstance(ref.type, str) or ref.type not in types:
            continue
        body = ref.state.get(ref.type)
        if isinstance(body, dict):
            yield ref, body


def spec_kind(spec: SpecFile) -> str | None:
    kind = spec.data.get("kind") if isinstance(spec.data, dict) else None
    return kind if isinstance(kind, str) else None


def type_of(state: Any) -> str | None:
    """A state's `type` when it is a string (malformed documents may hold anything there)."""
    kind = state.get("type") if isinstance(state, dict) else None
    return kind if isinstance(kind, str) else None
