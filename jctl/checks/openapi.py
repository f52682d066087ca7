"""OpenAPI files: structural validity, and a per-journey OpenAPI export against the journey it describes.

The rules for the export (start path, one `/steps/{stepId}` per wait/webhook state, request schemas equal to the
journey's inline schemas, self-contained) come from openapi-export.md and dsl.md section 12.4.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from typing import Any

from jctl.checks import SpecFile, check
from jctl.checks.linked import (
    compiled_validator, describe_value, dotted, external_input_states, point_at, quickly_valid, schema_error_findings,
    sibling_journey, state_input_schema,
)
from jctl.checks.openapi_index import (
    BASE_PATH, MISSING, STEP_PATH, OpenApiIndex, Operation, canonical_path, openapi_index, step_operations,
)
from jctl.checks.openapi_refs import document_refs
from jctl.checks.schema_compare import schema_difference
from jctl.diagnostics import DocPath, Finding
from jctl.spec.loader import LoadedDocument
from jctl.spec.model import node_at

_STATUS_PATH = re.compile(r"^/journeys/\{[^{}/]+\}$")
_RESULT_PATH = re.compile(r"^/journeys/\{[^{}/]+\}/result$")

@cache
def _structure_validator(version: str) -> Any:
    """A jsonschema validator for the OpenAPI schema openapi-spec-validator ships, built once per version.

    The 3.1 schema checks Schema Objects through `$dynamicRef: #meta`, whose anchor only requires an object or a
    boolean; pointing it at that definition statically accepts the same documents three to four times faster.
    """
    import jsonschema

    if version == "3.0":
        return jsonschema.Draft4Validator(_shipped_schema("3.0"))
    return jsonschema.Draft202012Validator(without_dynamic_refs(_shipped_schema("3.1"), "#/$defs/schema"))


@cache
def _compiled_structure_validator(version: str) -> Any | None:
    return compiled_validator(_shipped_schema("3.0") if version == "3.0"
                              else without_dynamic_refs(_shipped_schema("3.1"), "#/$defs/schema"))


def _shipped_schema(version: str) -> Any:
    """Read the schema file from the installed openapi-spec-validator without importing it (its import costs
    ~200 ms, and we use only its data)."""
    import importlib.util
    import json
    from pathlib import Path

    found = importlib.util.find_spec("openapi_spec_validator")
    if found is None or not found.submodule_search_locations:
        raise ModuleNotFoundError("openapi-spec-validator is not installed", name="openapi_spec_validator")
    package = Path(next(iter(found.submodule_search_locations)))
    return json.loads((package / "resources" / "schemas" / f"v{version}" / "schema.json").read_text("utf-8"))


def without_dynamic_refs(node: Any, target: str) -> Any:
    """A copy of a schema whose `$dynamicRef`s are plain `$ref`s to `target`.

    jsonschema resolves `$dynamicRef` by walking the dynamic scope at every use, which makes the 2020-12 metaschema
    (and schemas built on it) five to ten times slower; when validation always starts at the schema that declares
    the anchor, a static `$ref` to it accepts exactly the same documents.
    """
    if isinstance(node, list):
        return [without_dynamic_refs(item, target) for item in node]
    if not isinstance(node, dict):
        return node
    copied: dict[str, Any] = {}
    for key, value in node.items():
        if key == "$dynamicRef":
            copied["$ref"] = target
        elif key in _NAMED_SUBSCHEMAS and isinstance(value, dict):  # keys here are names, not keywords
            copied[key] = {name: without_dynamic_refs(sub, target) for name, sub in value.items()}
        elif key != "$dynamicAnchor":
            copied[key] = without_dynamic_refs(value, target)
    return copied


_NAMED_SUBSCHEMAS = frozenset({"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"})


@check("openapi-invalid", "error", "The file is not a valid OpenAPI 3.0/3.1 document.", kinds=("openapi",))
def check_openapi_structure(spec: SpecFile) -> Iterator[Finding]:
    data = spec.data
    if not isinstance(data, dict):
        return
    version = data.get("openapi")
    if "swagger" in data and "openapi" not in data:
        yield Finding(("swagger",), f"Swagger {data['swagger']} is not OpenAPI 3: jctl validates OpenAPI 3.0 and 3.1",
                      "convert the file to OpenAPI 3 (for instance with swagger2openapi)", at="key")
        return
    if not isinstance(version, str) or not re.match(r"^3\.[01]\.\d+", version):
        yield Finding(("openapi",) if "openapi" in data else (),
                      f"`openapi: {version}` is not a version jctl validates" if "openapi" in data
                      else "the document has no `openapi` version field",
                      "start the file with `openapi: 3.1.0` (or 3.0.x)", at="value" if "openapi" in data else "key")
        return
    if not quickly_valid(_compiled_structure_validator(version[:3]), data):
        yield from schema_error_findings(_located_errors(version[:3], data), "OpenAPI")
    if version.startswith("3.1"):
        yield from _schema_object_findings(data)


def _located_errors(version: str, data: dict[str, Any]) -> list[Any]:
    """The pure-Python validator's errors, computed only where the compiled validator found one: each failing node
    against the schema object that refused it (the whole document when an error cannot be placed that way), so an
    invalid document costs about what a valid one does."""
    compiled = _compiled_structure_validator(version)
    try:
        found = list(compiled.iter_errors(data)) if compiled is not None else []
    except Exception:  # noqa: BLE001 - a value it cannot represent: the pure-Python validator judges everything
        found = []
    errors: list[Any] = []
    done: set[tuple[DocPath, DocPath]] = set()
    for error in found:
        instance_path, schema_at = tuple(error.instance_path), tuple(error.schema_path)[:-1]
        if (instance_path, schema_at) in done:
            continue
        done.add((instance_path, schema_at))
        placed = _errors_at(version, data, instance_path, schema_at)
        if not placed:
            return list(_structure_validator(version).iter_errors(data))
        errors.extend(placed)
    return errors or list(_structure_validator(version).iter_errors(data))


def _errors_at(version: str, data: Any, instance_path: DocPath, schema_at: DocPath) -> list[Any]:
    root = _structure_validator(version).schema
    if not isinstance(node_at(root, schema_at, None), dict):
        return []
    instance = node_at(data, instance_path, MISSING)
    if instance is MISSING:
        return []
    pointer = "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in schema_at)
    errors = list(_subschema_validator(version, pointer).iter_errors(instance))
    for error in errors:
        error.path.extendleft(reversed(instance_path))
    return errors




@cache
def _subschema_validator(version: str, pointer: str) -> Any:
    """A pure-Python validator for one schema object of the shipped OpenAPI schema (its `$ref`s resolve in it)."""
    from jsonschema_specifications import REGISTRY
    from referencing.jsonschema import DRAFT4, DRAFT202012

    whole = _structure_validator(version)
    root = whole.schema
    root_id = str(root.get("id") or root.get("$id")).rstrip("#")
    specification = DRAFT4 if version == "3.0" else DRAFT202012
    registry: Any = REGISTRY.with_resource(root_id, specification.create_resource(root))
    return type(whole)({"$ref": f"{root_id}#{pointer}"}, registry=registry)


def _schema_object_findings(data: dict[str, Any]) -> Iterator[Finding]:
    """OpenAPI 3.1 Schema Objects against the JSON Schema 2020-12 metaschema (the document schema only asks for a
    mapping or a boolean there): compiled first, the pure-Python validator only for the schemas it refuses."""
    import jsonschema_rs

    from jctl.checks.openapi_examples import known_dialect, schema_roots

    if not known_dialect(data):
        return
    for schema, path in schema_roots(data):
        if not isinstance(schema, (dict, bool)) or _meta_valid(jsonschema_rs, schema):
            continue
        errors = list(_metaschema_validator().iter_errors(schema))
        for error in errors:
            error.path.extendleft(reversed(path))
        yield from schema_error_findings(errors, "OpenAPI", limit=10)


def _meta_valid(jsonschema_rs: Any, schema: Any) -> bool:
    try:
        return bool(jsonschema_rs.meta.is_valid(schema if "$schema" in schema or not isinstance(schema, dict)
                                                else {**schema, "$schema": _DRAFT_2020_12}))
    except Exception:  # noqa: BLE001 - a value it cannot represent or an unknown `$schema`: not judged
        return True


_DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"


@cache
def _metaschema_validator() -> Any:
    import jsonschema

    return jsonschema.Draft202012Validator(jsonschema.Draft202012Validator.META_SCHEMA)


# --- the export against its journey -------------------------------------------------------------------------------

def _export_context(spec: SpecFile) -> tuple[LoadedDocument, OpenApiIndex] | None:
    if not isinstance(spec.data, dict) or not isinstance(spec.data.get("paths"), dict):
        return None
    journey = sibling_journey(spec)
    if journey is None or journey.data.get("kind") not in ("Journey", "Api"):
        return None
    return journey, openapi_index(spec.document)


@check("openapi-external-ref", "error", "A per-journey OpenAPI export uses a `$ref` to another file.",
       kinds=("openapi",))
def check_self_contained(spec: SpecFile) -> Iterator[Finding]:
    if _export_context(spec) is None:
        return
    for path, ref in document_refs(spec.document):
        if not ref.startswith("#"):
            yield Finding(path, f"`$ref: {ref}` points outside this file; per-journey OpenAPI exports are "
                                "self-contained", "inline the schema under components.schemas and use `#/...`")


@check("openapi-start-mismatch", "error",
       "The per-journey OpenAPI lacks the journey's start endpoint or its request body differs from spec.input.",
       kinds=("openapi",),
       also=(("openapi-schema-mismatch", "warning",
              "A request body schema in the OpenAPI export differs from the journey's inline schema."),))
def check_start_endpoint(spec: SpecFile) -> Iterator[Finding]:
    context = _export_context(spec)
    if context is None:
        return
    journey, index = context
    name = _journey_name(journey, spec)
    expected = _start_paths(journey.data, name)
    start = next((op for op in index.routes.values()
                  if op.method == "post" and canonical_path(index, op) in expected), None)
    if start is None:
        where = f"{BASE_PATH}{expected[0]}"
        yield Finding(("paths",), f"no `POST {where}` operation: the start endpoint of "
                                  f"{journey.data.get('kind')} `{name}` ({journey.path.name})",
                      f"add it under paths (with `servers: [{{url: {BASE_PATH}}}]`, as `{expected[0]}`)", at="key")
        return
    journey_input = node_at(journey.data, ("spec", "input", "schema"))
    if isinstance(journey_input, dict):
        yield from _compare_body(spec, start, journey_input, f"spec.input.schema of {journey.path.name}")


def _journey_name(journey: LoadedDocument, spec: SpecFile) -> str:
    name = node_at(journey.data, ("metadata", "name"))
    return name if isinstance(name, str) else spec.path.name.split(".")[0]


def _start_paths(journey: dict[str, Any], name: str) -> list[str]:
    if journey.get("kind") == "Api":
        route = node_at(journey, ("spec", "bindings", "http", "route", "path"))
        return [route.removeprefix(BASE_PATH)] if isinstance(route, str) else [f"/apis/{name}"]
    return [f"/journeys/{name}/start", "/journeys/{journeyName}/start"]


def _compare_body(spec: SpecFile, operation: Operation, expected: dict[str, Any], source: str) -> Iterator[Finding]:
    body_path = operation.path + ("requestBody",)
    if operation.request_schema is None:
        yield Finding(operation.path, f"{operation.method.upper()} {operation.template} has no JSON request body, "
                                      f"but {source} declares one", "export the schema as its requestBody",
                      at="key", rule="openapi-schema-mismatch")
        return
    difference = schema_difference(expected, operation.request_schema, spec.data)
    if difference is None:
        return
    at, ours, theirs = difference
    where, anchor = point_at(spec.document, _schema_node_path(spec.data, body_path), at)
    yield Finding(where, f"request body of {operation.method.upper()} {operation.template} differs from {source} at "
                  f"`{dotted(at)}`: the journey has {describe_value(ours)}, this file has {describe_value(theirs)}",
                  "re-export the OpenAPI file from the journey, or make the two schemas agree",
                  at=anchor, rule="openapi-schema-mismatch")


def _schema_node_path(data: Any, body_path: DocPath) -> DocPath:
    body = node_at(data, body_path)
    content = body.get("content") if isinstance(body, dict) else None
    if isinstance(content, dict) and content:
        media = "application/json" if "application/json" in content else next(iter(content))
        return body_path + ("content", media, "schema")
    return body_path


@check("openapi-missing-step", "error",
       "A wait/webhook state of the journey has no `/steps/{stepId}` endpoint in its OpenAPI export.",
       kinds=("openapi",))
def check_missing_steps(spec: SpecFile) -> Iterator[Finding]:
    context = _export_context(spec)
    if context is None:
        return
    journey, index = context
    steps = step_operations(index)
    for state_id, ref in external_input_states(journey.data).items():
        operation = steps.get(state_id)
        if operation is None:
            line = journey.source_map.line_col(ref.path, "key")[0]
            yield Finding(("paths",), f"no `POST {BASE_PATH}/journeys/{{journeyId}}/steps/{state_id}` for the "
                                      f"{ref.type} state `{state_id}` ({journey.path.name} line {line})",
                          "every wait/webhook state is a step endpoint; add the path with its input schema",
                          at="key")
            continue
        schema = state_input_schema(ref)
        if isinstance(schema, dict):
            yield from _compare_body(spec, operation, schema, f"the input.schema of state `{state_id}`")


@check("openapi-extra-step", "error",
       "The OpenAPI export has a `/steps/{stepId}` endpoint for a state that is not a wait/webhook state.",
       kinds=("openapi",),
       also=(("openapi-extra-path", "warning", "The OpenAPI export has a path outside the Journeys API surface."),
             ("openapi-missing-endpoint", "warning",
              "The OpenAPI export of a journey lacks its status or result endpoint.")))
def check_extra_paths(spec: SpecFile) -> Iterator[Finding]:
    context = _export_context(spec)
    if context is None:
        return
    journey, index = context
    name = _journey_name(journey, spec)
    states = external_input_states(journey.data)
    cancellable = node_at(journey.data, ("spec", "lifecycle", "cancellable")) is not False
    allowed = set(_start_paths(journey.data, name))
    is_journey = journey.data.get("kind") == "Journey"
    for template in spec.data["paths"]:
        canonical = (index.prefix + str(template)).removeprefix(BASE_PATH)
        step = STEP_PATH.match(canonical)
        if step and is_journey:
            step_id = step.group(1)
            if step_id not in states and not (step_id == "cancel" and cancellable):
                known = ", ".join(f"`{s}`" for s in states) or "none"
                yield Finding(("paths", template), f"step `{step_id}` is not a wait/webhook state of "
                                                   f"{journey.path.name} (its step states: {known})",
                              "remove the path or rename it to the state id", at="key")
        elif not (canonical in allowed or (is_journey and (_STATUS_PATH.match(canonical)
                                                           or _RESULT_PATH.match(canonical)))):
            yield Finding(("paths", template), f"`{template}` is not an endpoint of the "
                                               f"{'Journeys' if is_journey else 'Api'} surface for `{name}`",
                          "per-journey exports hold start, status, result and step paths only; remove it",
                          at="key", rule="openapi-extra-path")
    if is_journey:
        yield from _missing_status_result(index)


def _missing_status_result(index: OpenApiIndex) -> Iterator[Finding]:
    for label, pattern in (("status", _STATUS_PATH), ("result", _RESULT_PATH)):
        if not any(op.method == "get" and pattern.match(canonical_path(index, op)) for op in index.routes.values()):
            suffix = "" if label == "status" else "/result"
            yield Finding(("paths",), f"no `GET {BASE_PATH}/journeys/{{journeyId}}{suffix}` ({label}) endpoint",
                          "the Journeys API exposes status and result for every journey; add the path", at="key",
                          rule="openapi-missing-endpoint")

