"""Schema-marked secrets: fields of the start input schema or of a wait/webhook step input schema marked
`writeOnly: true` or `format: password` are shown as *** by `status`, `history` and `list`. The instance keeps
and uses the real values; only what is displayed is masked."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

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
    """Secret paths of a journey: its start input schema and each top-level wait/webhook input schema."""
    spec = definition.get("spec") or {}
    paths = set(marked_paths((spec.get("input") or {}).get("schema")))
    for state in (spec.get("states") or {}).values():
        if isinstance(state, dict) and state.get("type") in ("wait", "webhook"):
            step = ((state.get(state["type"]) or {}).get("input") or {}).get("schema")
            for path in marked_paths(step):  # in the signal event, and as context.payload afterwards
                paths.update((path, ("payload", *path)))
    return sorted(paths)


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


def masked_envelope(envelope: dict[str, Any], paths: list[Path]) -> dict[str, Any]:
    """A status/outcome document with its output and any context fields projected into it masked."""
    if not paths:
        return envelope
    shown = masked(envelope, paths)  # fields of a step's outputVar projected at the top level
    if "output" in shown:
        shown["output"] = masked(envelope["output"], paths)
    return dict(shown)
