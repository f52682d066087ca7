"""`arazzo-input-schema`: the JSON Schemas of workflow inputs (and components.inputs) saying something that cannot
hold: enum values repeated or of another type than declared, required properties never defined, `items` on a
non-array or `properties` on a non-object, `minimum` beside `exclusiveMinimum` (Redocly's schema rules)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from jctl.checks import SpecFile, check
from jctl.diagnostics import DocPath, Finding

_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,), "null": (type(None),),
    "array": (list,), "object": (dict,),
}
_SUBSCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_SUBSCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
_SUBSCHEMAS = ("items", "additionalProperties", "not", "if", "then", "else", "contains", "propertyNames")


@check("arazzo-input-schema", "warning",
       "A workflow inputs schema contradicts itself (enum vs type, undefined required properties, misplaced "
       "items/properties, both minimum and exclusiveMinimum).", kinds=("arazzo",))
def check_input_schemas(spec: SpecFile) -> Iterator[Finding]:
    data = spec.data if isinstance(spec.data, dict) else {}
    workflows = data.get("workflows")
    roots: list[tuple[Any, DocPath]] = []
    if isinstance(workflows, list):
        roots += [(w.get("inputs"), ("workflows", i, "inputs")) for i, w in enumerate(workflows) if isinstance(w, dict)]
    components = data.get("components")
    inputs = components.get("inputs") if isinstance(components, dict) else None
    if isinstance(inputs, dict):
        roots += [(schema, ("components", "inputs", name)) for name, schema in inputs.items()]
    for schema, at in roots:
        for node, where in _schemas(schema, at):
            yield from _contradictions(node, where)


def _schemas(schema: Any, at: DocPath) -> Iterator[tuple[dict[str, Any], DocPath]]:
    pending = [(schema, at)]
    while pending:
        node, where = pending.pop()
        if not isinstance(node, dict):
            continue
        yield node, where
        for key in _SUBSCHEMA_MAPS:
            if isinstance(node.get(key), dict):
                pending += [(value, where + (key, name)) for name, value in node[key].items()]
        for key in _SUBSCHEMA_LISTS:
            if isinstance(node.get(key), list):
                pending += [(value, where + (key, index)) for index, value in enumerate(node[key])]
        pending += [(node[key], where + (key,)) for key in _SUBSCHEMAS if key in node]


def _contradictions(schema: dict[str, Any], at: DocPath) -> Iterator[Finding]:
    declared = schema.get("type")
    enum = schema.get("enum")
    if isinstance(enum, list):
        yield from _enum_findings(enum, declared, at)
    properties, required = schema.get("properties"), schema.get("required")
    if isinstance(properties, dict) and isinstance(required, list):
        for index, name in enumerate(required):
            if isinstance(name, str) and name not in properties:
                yield Finding(at + ("required", index), f"required property `{name}` is not defined in properties",
                              f"define `{name}` under properties, or drop it from required")
    if isinstance(declared, str):
        if declared != "array" and "items" in schema:
            yield Finding(at + ("items",), f"`items` on a schema of type {declared}: it applies only to arrays",
                          "remove `items`, or make the type array", at="key")
        if declared != "object" and "properties" in schema:
            yield Finding(at + ("properties",), f"`properties` on a schema of type {declared}: they apply only "
                                                "to objects", "remove `properties`, or make the type object", at="key")
    for bound in ("minimum", "maximum"):
        exclusive = "exclusive" + bound.capitalize()
        if _is_number(schema.get(bound)) and _is_number(schema.get(exclusive)):
            yield Finding(at + (exclusive,), f"both `{bound}` and `{exclusive}`: only the stricter one counts",
                          "keep one of them", at="key")


def _enum_findings(enum: list[Any], declared: Any, at: DocPath) -> Iterator[Finding]:
    types = [declared] if isinstance(declared, str) else declared if isinstance(declared, list) else []
    accepted = tuple(t for name in types if isinstance(name, str) for t in _JSON_TYPES.get(name, ()))
    seen: set[str] = set()
    for index, value in enumerate(enum):
        key = json.dumps(value, sort_keys=True)
        if key in seen:
            yield Finding(at + ("enum", index), f"enum value {key} is listed twice", "remove the repeat")
        seen.add(key)
        wrong_bool = isinstance(value, bool) and bool not in accepted
        if accepted and (not isinstance(value, accepted) or wrong_bool):
            yield Finding(at + ("enum", index), f"enum value {key} is not of the schema's type {'/'.join(types)}",
                          "make the value match the type, or widen the type")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
