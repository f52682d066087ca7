"""Schema-marked secrets: fields of the start input schema or of a wait/webhook step input schema marked
`writeOnly: true` or `format: password` are shown as *** wherever an instance is shown: the envelopes every driver
answers with (`run`, `signal`, `status`, `cancel`, `jctl serve`, remote and Temporal targets) and its history. The
instance keeps and uses the real values; only what is displayed is masked."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jctl.store.models import Event

MASK = "***"
Path = tuple[str, ...]  # property names from the document root; "*" stands for every array item


def marked_paths(schema: Any, at: Path = ()) -> Iterator[Path]:
    """Paths of the properties a JSON Schema marks as secret."""
    if not isinstance(schema, dict):
        return
    if at and (schema.get("writeOnly") is True or schema.get("format") == "password"):
        yield at
        return
    for name, sub in (schema.get("properties") or {}).items():
        yield from marked_paths(sub, (*at, str(name)))
    yield from marked_paths(schema.get("items"), (*at, "*"))
    for keyword in ("allOf", "anyOf", "oneOf"):
        for sub in schema.get(keyword) or []:
            yield from marked_paths(sub, at)


def definition_paths(definition: dict[str, Any]) -> list[Path]:
    """Secret paths of a journey: its start input schema and the input schema of each wait/webhook, at the top
    level, in parallel branches and in subjourneys. Worked out once per definition object (every answer about an
    instance asks): a definition is never changed in place (the store and the start memo share them)."""
    known = _PATHS.get(id(definition))
    if known is not None and known[0] is definition:  # the entry holds the object, so its id is not reused
        return list(known[1])
    paths = _definition_paths(definition)
    if len(_PATHS) >= _MAX_PATHS:
        _PATHS.clear()
    _PATHS[id(definition)] = (definition, tuple(paths))
    return paths


_PATHS: dict[int, tuple[dict[str, Any], tuple[Path, ...]]] = {}
_MAX_PATHS = 64


def _definition_paths(definition: dict[str, Any]) -> list[Path]:
    spec = definition.get("spec") or {}
    paths = set(marked_paths((spec.get("input") or {}).get("schema")))
    graphs = [spec.get("states"), *[(g or {}).get("states") for g in (spec.get("subjourneys") or {}).values()
                                    if isinstance(g, dict)]]
    for state in _states(graphs):
        if state.get("type") in ("wait", "webhook"):
            step = ((state.get(state["type"]) or {}).get("input") or {}).get("schema")
            for path in marked_paths(step):  # in the signal event, and as context.payload afterwards
                paths.update((path, ("payload", *path)))
    return sorted(paths)


def _states(graphs: list[Any]) -> Iterator[dict[str, Any]]:
    """Every state of these state maps and of the parallel branches inside them, at any depth."""
    pending = [g for g in graphs if isinstance(g, dict)]
    while pending:
        for state in pending.pop().values():
            if not isinstance(state, dict):
                continue
            yield state
            branches = (state.get("parallel") or {}).get("branches") if state.get("type") == "parallel" else None
            pending += [b["states"] for b in branches or []
                        if isinstance(b, dict) and isinstance(b.get("states"), dict)]


def masked(value: Any, paths: list[Path]) -> Any:
    """A copy of `value` with every path that exists in it replaced by ***."""
    if not paths:
        return value
    result = copy.deepcopy(value)
    for path in paths:
        _mask(result, path)
    return result


def _mask(node: Any, path: Path) -> None:
    head, rest = path[0], path[1:]
    if head == "*" and isinstance(node, list):
        for index, item in enumerate(node):
            if rest:
                _mask(item, rest)
            else:
                node[index] = MASK
    elif isinstance(node, dict) and head in node:
        if rest:
            _mask(node[head], rest)
        elif node[head] is not None:
            node[head] = MASK


def masked_event_data(data: dict[str, Any], paths: list[Path]) -> dict[str, Any]:
    """History event data with the start input, step payloads and any context snapshot masked."""
    if not paths:
        return data
    return {key: masked(value, paths) if key in ("input", "payload", "context", "output") else value
            for key, value in data.items()}


def shown_envelope(envelope: dict[str, Any], definition: dict[str, Any]) -> dict[str, Any]:
    """A JourneyStatus/JourneyOutcome of an instance of `definition` as it may be shown."""
    return masked_envelope(envelope, definition_paths(definition))


def shown_history(events: list[Event], definition: dict[str, Any]) -> list[Event]:
    """History events of an instance of `definition` as they may be shown."""
    paths = definition_paths(definition)
    return [replace(event, data=masked_event_data(event.data, paths)) for event in events] if paths else events


def masked_envelope(envelope: dict[str, Any], paths: list[Path]) -> dict[str, Any]:
    """A status/outcome document with its output and any context fields projected into it masked."""
    if not paths:
        return envelope
    shown = masked(envelope, paths)  # fields of a step's outputVar projected at the top level
    if "output" in shown:
        shown["output"] = masked(envelope["output"], paths)
    return dict(shown)
