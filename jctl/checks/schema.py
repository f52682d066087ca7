"""The `schema` rule: validate a journey/API document against the bundled journey DSL JSON Schema, turning each
jsonschema error into one human message at the most specific node, with "did you mean" hints."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Iterator
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from jctl.checks import SpecFile, check
from jctl.checks.linked import best_branch
from jctl.diagnostics import Anchor, DocPath, Finding
from jctl.spec.model import json_type

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

SCHEMA_FILE = "journey-dsl-v1.schema.json"
# Documents that share the .journey.yaml naming habit but are not journey specs.
OTHER_DOCUMENT_KEYS = ("openapi", "arazzo", "asyncapi", "swagger")
OTHER_KINDS = ("MetadataLimits",)
# Validators whose failure is best explained by the schema's own `errorMessage` annotation.
CUSTOM_MESSAGE_VALIDATORS = frozenset({"anyOf", "oneOf", "not", "pattern", "required"})
TYPE_NAMES = {
    "object": "a mapping", "array": "a list", "string": "a string", "integer": "an integer",
    "number": "a number", "boolean": "true or false", "null": "null",
}


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


@check("schema", "error", "The document does not match the journey DSL schema (fields, types, allowed values).")
def check_schema(spec: SpecFile) -> Iterator[Finding]:
    if not is_journey_document(spec.data):
        return
    from jctl.checks.placement import analysed, error_keys

    raw, misplaced = analysed(spec.document)
    resolved = {key for misplacement in misplaced for key in misplacement.resolved}
    moved = {misplacement.path for misplacement in misplaced}  # reported once, by the placement rules
    errors = [most_specific(error) for error in raw if not error_keys(error) <= resolved]
    misspelt = misspelt_fields(errors)
    with_unknown_fields = {tuple(e.absolute_path) for e in errors if e.validator == "additionalProperties"}
    seen: set[tuple[DocPath, str]] = set()
    for error in errors:
        path = tuple(error.absolute_path)
        if error.validator == "required" and (path, missing_name(error)) in misspelt:
            continue  # already reported as "unknown field `nxt`; did you mean `next`?"
        if error.validator in ("anyOf", "oneOf") and path in with_unknown_fields:
            continue  # the unknown field (listed with the allowed ones) is the mistake to fix first
        for finding in findings_for(error):
            key = (finding.path, finding.message)
            if key not in seen and finding.path not in moved:
                seen.add(key)
                yield finding


def is_journey_document(data: Any) -> bool:
    """False for documents that are plainly something else (OpenAPI, Arazzo, engine configuration)."""
    if not isinstance(data, dict):
        return True  # the schema reports "must be a mapping"
    if any(key in data for key in OTHER_DOCUMENT_KEYS):
        return False
    return data.get("kind") not in OTHER_KINDS


def findings_for(error: ValidationError) -> Iterator[Finding]:
    path: DocPath = tuple(error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    custom = schema.get("errorMessage")
    if error.validator == "additionalProperties":
        yield from unknown_fields(error, path, schema)
    elif custom and error.validator in CUSTOM_MESSAGE_VALIDATORS:
        at: Anchor = "key" if isinstance(error.instance, dict) or error.validator == "not" else "value"
        message = f"{describe(path)} {custom}" if custom.startswith("must ") else custom
        yield Finding(path, message, hint=interpolation_hint(error.instance), at=at)
    elif error.validator == "required":
        yield missing_field(error, path, schema)
    else:
        yield Finding(path, value_message(error, path), hint=value_hint(error), at=value_at(error))


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


def misspelt_fields(errors: list[ValidationError]) -> set[tuple[DocPath, str]]:
    """(object path, allowed name) for each unknown key that looks like a misspelling of an allowed one."""
    misspelt: set[tuple[DocPath, str]] = set()
    for error in errors:
        if error.validator == "additionalProperties" and isinstance(error.schema, dict):
            allowed = list(error.schema.get("properties", {}))
            for key in unexpected_keys(error):
                suggestion = closest(key, allowed)
                if suggestion:
                    misspelt.add((tuple(error.absolute_path), suggestion))
    return misspelt


def missing_name(error: ValidationError) -> str:
    """The property a `required` error is about (jsonschema yields one error per missing property)."""
    for name in error.validator_value:
        if isinstance(error.instance, dict) and name not in error.instance and error.message.startswith(repr(name)):
            return str(name)
    return str(error.message).split("'")[1] if "'" in error.message else ""


def unknown_fields(error: ValidationError, path: DocPath, schema: dict[str, Any]) -> Iterator[Finding]:
    allowed = list(schema.get("properties", {}))
    where = place(path, schema)
    for key in unexpected_keys(error):
        suggestion = closest(key, allowed)
        message = f"unknown field `{key}` in {where}"
        if suggestion:
            message += f"; did you mean `{suggestion}`?"
        hint = f"allowed fields: {', '.join(allowed)}" if allowed else f"{where} takes no fields"
        yield Finding((*path, key), message, hint=hint, at="key")


def missing_field(error: ValidationError, path: DocPath, schema: dict[str, Any]) -> Finding:
    name = missing_name(error)
    where = place(path, schema)
    message = f"missing required field `{name}` in {where}"
    property_schema = schema.get("properties", {}).get(name, {})
    hint = ""
    if isinstance(property_schema, dict) and property_schema.get("description"):
        hint = f"`{name}`: {property_schema['description']}"
    return Finding(path, message, hint=hint, at="key")


def _reads_as_number(text: str) -> bool:
    import re

    return re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+", text.strip()) is not None


def value_message(error: ValidationError, path: DocPath) -> str:
    subject = describe(path)
    validator, expected, instance = error.validator, error.validator_value, error.instance
    if validator == "type":
        types = [expected] if isinstance(expected, str) else list(expected)
        wanted = " or ".join(TYPE_NAMES.get(name, name) for name in types)
        if isinstance(instance, str) and {"integer", "number"} & set(types) and _reads_as_number(instance):
            # YAML 1.1 leaves `1e300` (no dot) a string: say what it is, not "a string"
            return (f"{subject} must be {wanted}; `{instance}` reads as a number but YAML keeps it as text, and "
                    f"as a number it is out of range or not a whole number")
        return f"{subject} must be {wanted}, not {json_type(instance)}"
    if validator == "enum":
        return f"{subject} is {show(instance)}; allowed values: {', '.join(show(v) for v in expected)}"
    if validator == "const":
        return f"{subject} must be {show(expected)}, not {show(instance)}"
    if validator == "minimum":
        return f"{subject} must be at least {expected}, not {show(instance)}"
    if validator == "maximum":
        return f"{subject} must be at most {expected}, not {show(instance)}"
    if validator == "minLength":
        return f"{subject} must not be empty"
    if validator == "minItems":
        return f"{subject} must have at least {expected} item{'s' if expected != 1 else ''}"
    if validator == "minProperties":
        return f"{subject} must have at least {expected} entr{'ies' if expected != 1 else 'y'}"
    if validator == "pattern":
        return f"{subject} {show(instance)} does not match the pattern `{expected}`"
    if validator in ("anyOf", "oneOf"):
        return f"{subject} does not match any allowed shape"
    return f"{subject}: {error.message}"


def interpolation_hint(value: Any) -> str:
    if isinstance(value, str) and "${" in value:
        return "`${...}` interpolation works only in url, headers and body; compute this value with a `mapper`"
    return ""


def value_hint(error: ValidationError) -> str:
    if error.validator == "enum" and isinstance(error.instance, str):
        suggestion = closest(error.instance, [v for v in error.validator_value if isinstance(v, str)])
        if suggestion:
            return f"did you mean `{suggestion}`?"
    if error.validator == "const" and isinstance(error.instance, str) and isinstance(error.validator_value, str):
        return f"write `{error.validator_value}`"
    return interpolation_hint(error.instance) if error.validator == "pattern" else ""


def value_at(error: ValidationError) -> Anchor:
    return "key" if error.validator == "minProperties" else "value"


def place(path: DocPath, schema: dict[str, Any]) -> str:
    """What the object at `path` is, by the schema's title: "wait", "httpCall:v1 task", "the document"."""
    return str(schema.get("title") or describe(path)) if path else "the document"


def describe(path: DocPath) -> str:
    """A short human name for a node: `timeoutSec`, `states.review.type`, `choices[0].next`."""
    if not path:
        return "the document"
    parts: list[str] = []
    for part in path[-3:]:
        if isinstance(part, int):
            parts[-1:] = [f"{parts[-1] if parts else ''}[{part}]"]
        else:
            parts.append(str(part))
    return f"`{'.'.join(parts)}`"


def closest(word: str, candidates: Iterable[str]) -> str | None:
    by_lower = {candidate.lower(): candidate for candidate in candidates}
    matches = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=0.75)
    return by_lower[matches[0]] if matches else None


def show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else f'"{value}"'
    return text if len(text) <= 60 else text[:57] + "..."
