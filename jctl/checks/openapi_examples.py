"""Examples and defaults of an OpenAPI document against their schemas: a schema's `default`, `example` (3.0) and
`examples` (3.1), and the `example`/`examples` of parameters, headers and media types.

Validation is compiled (jsonschema-rs) against the document itself registered as one resource, so local `$ref`s
and recursive schemas resolve; OpenAPI 3.0 schemas are Draft 4 with `nullable` (its `type` plus `null`), 3.1 ones
JSON Schema 2020-12. A value whose schema reaches into another file is left alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

from jctl.checks import SpecFile, check
from jctl.checks.linked import point_at
from jctl.checks.openapi_refs import PointerError, RefProblem, follow, pointer_parts
from jctl.diagnostics import DocPath, Finding, path_text

_DOCUMENT_URI = "urn:jctl:document"
# keywords whose value is a schema, a list of schemas, or a mapping of names to schemas
_SCHEMA = frozenset({"items", "additionalProperties", "not", "contains", "propertyNames", "if", "then", "else",
           "unevaluatedItems", "unevaluatedProperties", "additionalItems", "contentSchema"})
_SCHEMA_LISTS = frozenset({"allOf", "anyOf", "oneOf", "prefixItems", "items"})
_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"})
_HOLDERS = ("parameters", "headers", "content")  # where parameter, header and media type objects sit


class _Sample(NamedTuple):
    value: Any
    path: DocPath  # of the value in the document
    schema_path: DocPath  # of the schema it must match
    label: str  # "default", "example", "examples[1]", "example `ok`"
    rule: str


def _schemas(node: Any, path: DocPath) -> Iterator[tuple[dict[str, Any], DocPath]]:
    """`node` (a schema) and every subschema below it, with their paths."""
    stack = [(node, path)]
    while stack:
        schema, at = stack.pop()
        if not isinstance(schema, dict):
            continue
        yield schema, at
        for key, value in schema.items():
            if key in _SCHEMA and isinstance(value, dict):
                stack.append((value, at + (key,)))
            elif key in _SCHEMA_LISTS and isinstance(value, list):
                stack.extend((sub, at + (key, i)) for i, sub in enumerate(value) if isinstance(sub, dict))
            elif key in _SCHEMA_MAPS and isinstance(value, dict):
                stack.extend((sub, at + (key, name)) for name, sub in value.items() if isinstance(sub, dict))


def _schema_samples(schema: dict[str, Any], at: DocPath, version: str) -> Iterator[_Sample]:
    if "$ref" in schema and version == "3.0":
        return  # siblings of a 3.0 `$ref` are ignored
    if "default" in schema:
        yield _Sample(schema["default"], at + ("default",), at, "default", "openapi-default-mismatch")
    if "example" in schema:
        yield _Sample(schema["example"], at + ("example",), at, "example", "openapi-example-mismatch")
    if version == "3.1" and isinstance(schema.get("examples"), list):
        for i, value in enumerate(schema["examples"]):
            yield _Sample(value, at + ("examples", i), at, f"examples[{i}]", "openapi-example-mismatch")


def _holder_samples(spec: SpecFile, holder: dict[str, Any], at: DocPath) -> Iterator[_Sample]:
    """The `example`/`examples` of a parameter, header or media type, against its `schema`."""
    schema_path = at + ("schema",)
    if "example" in holder:
        yield _Sample(holder["example"], at + ("example",), schema_path, "example", "openapi-example-mismatch")
    examples = holder.get("examples")
    if not isinstance(examples, dict):
        return
    for name, example in examples.items():
        if isinstance(example, dict) and "$ref" in example and isinstance(example["$ref"], str):
            try:
                target = follow(spec, spec.document, example["$ref"])
            except RefProblem:
                continue  # reported by openapi-ref
            if target.document is not spec.document:
                continue
            example, value_path = target.node, target.path
        else:
            value_path = at + ("examples", name)
        if isinstance(example, dict) and "value" in example:
            yield _Sample(example["value"], value_path + ("value",), schema_path, f"example `{name}`",
                          "openapi-example-mismatch")


def _samples(spec: SpecFile, version: str) -> Iterator[_Sample]:
    """Every example and default in the document (from one walk of it, shared with the schema checks)."""
    outline = document_outline(spec.data)
    for holder, at in outline.holders:
        yield from _holder_samples(spec, holder, at)
    for root, at in outline.schemas:
        yield from _schema_tree_samples(root, at, version)


class Outline(NamedTuple):
    schemas: list[tuple[Any, DocPath]]  # each Schema Object not inside another: components.schemas.*, `schema`s
    holders: list[tuple[dict[str, Any], DocPath]]  # parameters, headers and media types that have a `schema`


_OUTLINES: dict[int, tuple[Any, Outline]] = {}


def document_outline(data: Any) -> Outline:
    """The schema roots and example holders of a document, walked once per document object."""
    cached = _OUTLINES.get(id(data))
    if cached is not None and cached[0] is data:
        return cached[1]
    if len(_OUTLINES) > 512:
        _OUTLINES.clear()
    outline = Outline([], [])
    stack: list[tuple[Any, DocPath, bool]] = [(data, (), False)]
    while stack:
        node, at, in_holder = stack.pop()
        if isinstance(node, list):
            stack.extend((item, at + (i,), in_holder) for i, item in enumerate(node) if isinstance(item, dict))
            continue
        if in_holder and isinstance(node.get("schema"), dict):
            outline.holders.append((node, at))
        for key, value in node.items():
            if not isinstance(value, (dict, list, bool)) or key in ("example", "examples"):
                continue
            if key == "schema":
                outline.schemas.append((value, at + (key,)))
            elif key == "schemas" and at == ("components",) and isinstance(value, dict):
                outline.schemas.extend((sub, at + (key, name)) for name, sub in value.items())
            elif not isinstance(value, bool):
                stack.append((value, at + (key,), key in _HOLDERS or (bool(at) and at[-1] in _HOLDERS)))
    _OUTLINES[id(data)] = (data, outline)
    return outline


def schema_roots(data: Any) -> list[tuple[Any, DocPath]]:
    """Each Schema Object that is not inside another one: `components.schemas.*` and every `schema` field."""
    return document_outline(data).schemas


def _schema_tree_samples(root: Any, path: DocPath, version: str) -> Iterator[_Sample]:
    for schema, schema_path in _schemas(root, path):
        if "default" in schema or "example" in schema or "examples" in schema:
            yield from _schema_samples(schema, schema_path, version)


@check("openapi-example-mismatch", "warning", "An example does not match its schema.", kinds=("openapi",),
       also=(("openapi-default-mismatch", "warning", "A schema's `default` does not match the schema."),))
def check_examples(spec: SpecFile) -> Iterator[Finding]:
    version = spec.data.get("openapi") if isinstance(spec.data, dict) else None
    if not isinstance(version, str) or version[:3] not in ("3.0", "3.1") or not known_dialect(spec.data):
        return
    validators: _Validators | None = None
    for sample in _samples(spec, version[:3]):
        validators = validators or _Validators(spec.data, version[:3])  # built only for a file with samples
        problem = validators.first_error(sample.schema_path, sample.value)
        if problem is None:
            continue
        inner, message = problem
        where, anchor = point_at(spec.document, sample.path, inner)
        yield Finding(where, f"{sample.label} does not match its schema `{path_text(sample.schema_path)}`: "
                             f"{_shorten(message)}",
                      "fix the value, or the schema if the value is right", at=anchor, rule=sample.rule)


_KNOWN_DIALECTS = (None, "https://spec.openapis.org/oas/3.1/dialect/base",
                   "https://json-schema.org/draft/2020-12/schema")


def known_dialect(data: dict[str, Any]) -> bool:
    """True unless `jsonSchemaDialect` makes the document's schemas another JSON Schema dialect than OpenAPI's (its
    schemas are then not judged here)."""
    return str(data.get("jsonSchemaDialect") or "").rstrip("#") in (d or "" for d in _KNOWN_DIALECTS)


class _Validators:
    """Compiled validators by schema location, over one registry holding the (3.0: `nullable`-aware) document."""

    def __init__(self, data: Any, version: str) -> None:
        import jsonschema_rs

        self._module = jsonschema_rs
        self._version = version
        self._cls = jsonschema_rs.Draft4Validator if version == "3.0" else jsonschema_rs.Draft202012Validator
        self._contents = _with_nullable_types(data) if version == "3.0" else data
        self._registry: Any = None
        self._by_path: dict[DocPath, tuple[Any, Any]] = {}
        self._by_text: dict[str, tuple[Any, Any]] = {}

    def _validator(self, schema_path: DocPath) -> tuple[Any, Any]:
        """The compiled validator for the schema at `schema_path`, and the schema its errors' paths are relative to.
        A schema without `$ref`s is compiled alone and shared by every equal one (most inline schemas are alike);
        one with `$ref`s resolves them in the document, registered once."""
        if schema_path in self._by_path:
            return self._by_path[schema_path]
        import json

        node = _node_at(self._contents, schema_path)
        text = json.dumps(node, sort_keys=True, default=str)
        if '"$ref"' not in text and '"$dynamicRef"' not in text:
            if text not in self._by_text:
                self._by_text[text] = (self._compile(node), node)
            found = self._by_text[text]
        else:
            found = (self._compile({"$ref": f"{_DOCUMENT_URI}#{_pointer(schema_path)}"}, self._document_registry()),
                     self._contents)
        self._by_path[schema_path] = found
        return found

    def _compile(self, schema: Any, registry: Any = None) -> Any:
        try:
            return self._cls(schema, registry=registry, validate_formats=True, offline=True)
        except Exception:  # noqa: BLE001 - a ref into another file, a bad pattern: leave the value alone
            return None

    def _document_registry(self) -> Any:
        if self._registry is None:
            draft = self._module.Draft4 if self._version == "3.0" else self._module.Draft202012
            try:
                self._registry = self._module.Registry([(_DOCUMENT_URI, self._contents)], draft=draft)
            except Exception:  # noqa: BLE001 - a document it cannot take: its schemas with `$ref`s are not used
                self._registry = False
        return self._registry or None

    def first_error(self, schema_path: DocPath, value: Any) -> tuple[DocPath, str] | None:
        validator, base = self._validator(schema_path)
        if validator is None:
            return None
        try:
            error = next((e for e in validator.iter_errors(value) if not self._one_way_required(e, base)), None)
        except Exception:  # noqa: BLE001 - a value it cannot represent
            return None
        if error is None:
            return None
        if type(error.kind).__name__ in ("OneOfNotValid", "AnyOf"):
            meant = self._meant_branch_error(schema_path, value)
            if meant is not None:
                return meant
        return tuple(error.instance_path), str(error.message)

    def _one_way_required(self, error: Any, base: Any) -> bool:
        """A missing required property that is `readOnly` or `writeOnly`: OpenAPI exempts it on one side (requests
        or responses), and an example may show either side."""
        if type(error.kind).__name__ != "Required":
            return False
        owner = _node_at(base, tuple(error.schema_path)[:-1])
        properties = owner.get("properties") if isinstance(owner, dict) else None
        declared = properties.get(error.kind.property) if isinstance(properties, dict) else None
        if isinstance(declared, dict) and isinstance(declared.get("$ref"), str) and declared["$ref"].startswith("#/"):
            try:
                declared = _node_at(self._contents, pointer_parts(declared["$ref"][1:]))
            except PointerError:
                return False
        return isinstance(declared, dict) and (declared.get("readOnly") is True or declared.get("writeOnly") is True)

    def _meant_branch_error(self, schema_path: DocPath, value: Any) -> tuple[DocPath, str] | None:
        """For a value no alternative of a `oneOf`/`anyOf` accepts, the error of the alternative it was meant to
        be (the same choice the document schemas make), from the pure-Python validator."""
        from jctl.checks.linked import meant_errors

        try:
            errors = list(meant_errors(self._python_validator(schema_path).iter_errors(value)))
        except Exception:  # noqa: BLE001 - a schema the pure-Python validator cannot take: keep the compiled error
            return None
        if not errors:
            return None
        error = min(errors, key=lambda e: (-len(e.absolute_path), e.message))
        return tuple(error.absolute_path), str(error.message)

    def _python_validator(self, schema_path: DocPath) -> Any:
        import jsonschema
        from referencing import Registry
        from referencing.jsonschema import DRAFT4, DRAFT202012

        specification = DRAFT4 if self._version == "3.0" else DRAFT202012
        registry: Any = Registry().with_resource(_DOCUMENT_URI, specification.create_resource(self._contents))
        cls = jsonschema.Draft4Validator if self._version == "3.0" else jsonschema.Draft202012Validator
        return cls({"$ref": f"{_DOCUMENT_URI}#{_pointer(schema_path)}"}, registry=registry)


def _node_at(data: Any, path: DocPath) -> Any:
    for part in path:
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and str(part).isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return None
    return data


def _pointer(path: DocPath) -> str:
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in path)


def _shorten(message: str) -> str:
    return message if len(message) <= 160 else message[:157] + "..."


def _with_nullable_types(node: Any) -> Any:
    """A copy where each OpenAPI 3.0 `nullable: true` schema also accepts null (its `type` and `enum` widened)."""
    if isinstance(node, list):
        return [_with_nullable_types(item) for item in node]
    if not isinstance(node, dict):
        return node
    copied = {key: _with_nullable_types(value) for key, value in node.items()}
    if copied.get("nullable") is True:
        if isinstance(copied.get("type"), str):
            copied["type"] = [copied["type"], "null"]
        if isinstance(copied.get("enum"), list) and None not in copied["enum"]:
            copied["enum"] = [*copied["enum"], None]
    return copied
