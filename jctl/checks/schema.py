"""The `schema` rule: validate a journey/API document against the bundled journey DSL JSON Schema, turning each
jsonschema error into one human message at the most specific node, with "did you mean" hints."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from jctl.checks import SpecFile, check
from jctl.checks.dsl_schema import closest, is_journey_document, most_specific, unexpected_keys
from jctl.diagnostics import Anchor, DocPath, Finding
from jctl.spec.model import json_type

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError

# Validators whose failure is best explained by the schema's own `errorMessage` annotation.
CUSTOM_MESSAGE_VALIDATORS = frozenset({"anyOf", "oneOf", "not", "pattern", "required"})
TYPE_NAMES = {
    "object": "a mapping", "array": "a list", "string": "a string", "integer": "an integer",
    "number": "a number", "boolean": "true or false", "null": "null",
}


@check("schema", "error", "The document does not match the journey DSL schema (fields, types, allowed values).")
def check_schema(spec: SpecFile) -> Iterator[Finding]:
    if not is_journey_document(spec.data):
        return
    from jctl.checks.placement import analysed, error_keys  # imported here: its rules register after this one

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


def show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else f'"{value}"'
    return text if len(text) <= 60 else text[:57] + "..."
