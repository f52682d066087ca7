"""Comparing two JSON Schemas without a solver: where a journey's schema and an OpenAPI request schema differ
(OpenAPI exports must match exactly), or where one admits values the other rejects (Arazzo inputs)."""

from __future__ import annotations

from typing import Any

from jctl.checks.openapi_index import MISSING, resolve_local
from jctl.diagnostics import DocPath

# Keywords that document a schema without changing what it accepts; exporters add or drop them freely.
ANNOTATIONS = frozenset({"title", "description", "examples", "example", "$comment", "deprecated", "readOnly",
                         "writeOnly", "default", "$schema", "$id"})


def schema_difference(ours: Any, theirs: Any, data: Any = None, at: DocPath = ()) -> tuple[DocPath, Any, Any] | None:
    """The first place two JSON Schemas differ once annotations are ignored: (path, our value, their value).

    `theirs` may use local `$ref`s into `data` (an OpenAPI document); `required` lists compare as sets.
    """
    theirs = resolve_local(data, theirs) if data is not None else theirs
    if isinstance(ours, dict) and isinstance(theirs, dict):
        for key in sorted((set(ours) | set(theirs)) - ANNOTATIONS):
            a, b = ours.get(key, MISSING), theirs.get(key, MISSING)
            if a is MISSING or b is MISSING:
                return at + (key,), a, b
            if key == "required" and isinstance(a, list) and isinstance(b, list):
                if set(map(str, a)) != set(map(str, b)):
                    return at + (key,), a, b
                continue
            found = schema_difference(a, b, data, at + (key,))
            if found:
                return found
        return None
    if isinstance(ours, list) and isinstance(theirs, list):
        if len(ours) != len(theirs):
            return at, ours, theirs
        for position, (a, b) in enumerate(zip(ours, theirs)):
            found = schema_difference(a, b, data, at + (position,))
            if found:
                return found
        return None
    return None if ours == theirs and type(ours) is type(theirs) else (at, ours, theirs)


def schema_incompatibility(ours: Any, theirs: Any, data: Any = None, at: DocPath = ()) -> tuple[DocPath, str] | None:
    """Where a schema admits values a target schema rejects, by the checks that need no solver: types, enums,
    required names and properties a closed target does not allow. Narrowing (a subset enum, more `required`) is
    fine; the answer is (path, what is wrong) or None.
    """
    theirs = resolve_local(data, theirs) if data is not None else theirs
    if not isinstance(ours, dict) or not isinstance(theirs, dict):
        return None
    problem = _type_or_enum_problem(ours, theirs)
    if problem:
        return at, problem
    missing = [name for name in _names(theirs.get("required")) if name not in _names(ours.get("required"))]
    if missing:
        names = ", ".join(f"`{m}`" for m in missing)
        return at + ("required",), f"does not require {names}, which the OpenAPI request schema requires"
    our_properties, their_properties = ours.get("properties"), theirs.get("properties")
    if isinstance(our_properties, dict):
        their_properties = their_properties if isinstance(their_properties, dict) else {}
        for name, schema in our_properties.items():
            if name in their_properties:
                found = schema_incompatibility(schema, their_properties[name], data, at + ("properties", name))
                if found:
                    return found
            elif theirs.get("additionalProperties") is False:
                return at + ("properties", name), f"property `{name}` is not allowed by the OpenAPI request schema"
    if "items" in ours and "items" in theirs:
        return schema_incompatibility(ours["items"], theirs["items"], data, at + ("items",))
    return None


def _names(value: Any) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list) else []


def _types(schema: dict[str, Any]) -> set[str]:
    declared = schema.get("type")
    return {declared} if isinstance(declared, str) else set(_names(declared))


def _type_or_enum_problem(ours: dict[str, Any], theirs: dict[str, Any]) -> str | None:
    their_types, our_types = _types(theirs), _types(ours)
    if "number" in their_types:
        their_types.add("integer")
    if their_types and our_types - their_types:
        return f"has type {sorted(our_types)}, the request schema allows {sorted(their_types)}"
    if their_types and not our_types and "enum" not in ours and "const" not in ours:
        return f"has no type, the request schema allows only {sorted(their_types)}"
    their_enum = theirs.get("enum")
    if isinstance(their_enum, list):
        our_values = ours.get("enum") if isinstance(ours.get("enum"), list) else (
            [ours["const"]] if "const" in ours else None)
        if our_values is None:
            return f"allows any value, the request schema allows only {their_enum}"
        extra = [value for value in our_values if value not in their_enum]
        if extra:
            return f"allows {extra}, which the request schema's enum {their_enum} does not"
    return None
