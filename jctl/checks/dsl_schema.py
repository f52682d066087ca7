"""The bundled journey DSL JSON Schema, its fast validator, and what the `schema` and placement rules both read
of jsonschema's errors (the most specific alternative, a mapping's unexpected keys, the closest known name)."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Iterator
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from jctl.checks.linked import best_branch

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

SCHEMA_FILE = "journey-dsl-v1.schema.json"
# Documents that share the .journey.yaml naming habit but are not journey specs.
OTHER_DOCUMENT_KEYS = ("openapi", "arazzo", "asyncapi", "swagger")
OTHER_KINDS = ("MetadataLimits",)


@cache
def load_schema() -> dict[str, Any]:
    text = resources.files("jctl").joinpath("data", SCHEMA_FILE).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def schema_validator() -> Draft202012Validator:
    """A 2020-12 validator whose `if` decides `{properties: {f: {const: v}}, required: [f]}` tests directly.

    The schema dispatches every state on `type` and every task on `kind` through such tests; evaluating them
    without descending (jsonschema builds a validator per descent) makes validation several times faster while
    giving exactly the same results as the plain 2020-12 semantics.
    """
    from jsonschema import Draft202012Validator, validators

    fast_validator = validators.extend(Draft202012Validator, {"if": _fast_if})
    return fast_validator(load_schema())


def _fast_if(validator: Any, if_schema: Any, instance: Any, schema: dict[str, Any]) -> Iterator[Any]:
    test = _const_test(if_schema)
    if test is None:
        matched = validator.evolve(schema=if_schema).is_valid(instance)
    else:
        field, value = test
        matched = isinstance(instance, dict) and field in instance and _same_json(instance[field], value)
    if matched:
        if "then" in schema:
            yield from validator.descend(instance, schema["then"], schema_path="then")
    elif "else" in schema:
        yield from validator.descend(instance, schema["else"], schema_path="else")


def _const_test(if_schema: Any) -> tuple[str, Any] | None:
    """(field, value) when `if_schema` is exactly `{properties: {field: {const: value}}, required: [field]}`."""
    if not isinstance(if_schema, dict) or set(if_schema) != {"properties", "required"}:
        return None
    properties, required = if_schema["properties"], if_schema["required"]
    if not isinstance(properties, dict) or len(properties) != 1 or required != list(properties):
        return None
    (field, condition), = properties.items()
    if not isinstance(condition, dict) or set(condition) != {"const"}:
        return None
    return field, condition["const"]


def _same_json(left: Any, right: Any) -> bool:
    """JSON equality as `const` defines it: 1 equals 1.0, but true is not 1."""
    return isinstance(left, bool) == isinstance(right, bool) and left == right


def is_journey_document(data: Any) -> bool:
    """False for documents that are plainly something else (OpenAPI, Arazzo, engine configuration)."""
    if not isinstance(data, dict):
        return True  # the schema reports "must be a mapping"
    if any(key in data for key in OTHER_DOCUMENT_KEYS):
        return False
    return data.get("kind") not in OTHER_KINDS


def most_specific(error: ValidationError) -> ValidationError:
    """Descend through anyOf/oneOf failures into the one alternative whose shape the value actually has."""
    from jsonschema.exceptions import best_match

    while error.validator in ("anyOf", "oneOf") and error.context:
        by_alternative: dict[Any, list[ValidationError]] = {}
        for sub in error.context:
            by_alternative.setdefault(sub.relative_schema_path[0], []).append(sub)
        viable = [subs for subs in by_alternative.values() if not any(_rejects_outright(sub) for sub in subs)]
        branch = viable[0] if len(viable) == 1 else best_branch(error)
        if branch is None:
            break
        chosen = best_match(branch)
        if chosen is None:
            break
        error = chosen
    return error


def _rejects_outright(error: ValidationError) -> bool:
    """An alternative fails on the value itself (wrong type, excluded shape): it was not the intended one."""
    return not error.relative_path and error.validator in ("type", "not", "const", "enum")


def unexpected_keys(error: ValidationError) -> list[str]:
    schema = error.schema if isinstance(error.schema, dict) else {}
    allowed = schema.get("properties", {})
    patterns = list(schema.get("patternProperties", {}))
    instance = error.instance if isinstance(error.instance, dict) else {}
    return [key for key in instance if key not in allowed and not any(re.search(p, key) for p in patterns)]


def closest(word: str, candidates: Iterable[str]) -> str | None:
    by_lower = {candidate.lower(): candidate for candidate in candidates}
    matches = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=0.75)
    return by_lower[matches[0]] if matches else None
