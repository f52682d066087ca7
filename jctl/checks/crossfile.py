"""Cross-file checks: each `operationRef` in a journey against the OpenAPI document its API catalog names.

Also what the OpenAPI and Arazzo checks share: loading referenced files, indexing an OpenAPI document's operations,
finding a file's sibling journey and turning JSON Schema errors into findings.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple

from jctl.checks import SpecFile, check
from jctl.diagnostics import RULES, DocPath, Finding
from jctl.spec.loader import LoadedDocument, LoadError
from jctl.spec.model import EXTERNAL_INPUT_TYPES, StateRef, iter_states

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
PARAM_GROUPS = {"path": "path", "query": "query", "headers": "header"}
_TEMPLATE_VARIABLE = re.compile(r"\{([^{}]+)\}")
STEP_PATH = re.compile(r"^/journeys/\{[^{}/]+\}/steps/([^{}/]+)$")
BASE_PATH = "/api/v1"  # the Journeys API base; exports write it in `servers` or in each path
MISSING = object()


class Operation(NamedTuple):
    operation_id: str
    method: str
    template: str
    path: DocPath  # of the operation object in its document
    parameters: tuple[dict[str, Any], ...]  # path-level and operation-level, local $refs followed
    request_schema: Any  # application/json request body schema with local $refs followed, or None


@dataclass
class OpenApiIndex:
    """The operations of one OpenAPI document, by operationId and by (method, full path)."""

    document: LoadedDocument
    prefix: str = ""  # path part of the first server url, e.g. /api/v1
    operations: dict[str, Operation] = field(default_factory=dict)
    routes: dict[tuple[str, str], Operation] = field(default_factory=dict)

    def suggest(self, name: str) -> str:
        close = difflib.get_close_matches(name, list(self.operations), n=3, cutoff=0.6)
        return f"did you mean {' or '.join(f'`{c}`' for c in close)}?" if close else ""


_INDEX_CACHE: dict[Path, tuple[LoadedDocument, OpenApiIndex]] = {}


def openapi_index(document: LoadedDocument) -> OpenApiIndex:
    """Index `document` once; the cache is keyed on the document object the workspace keeps."""
    cached = _INDEX_CACHE.get(document.path)
    if cached is not None and cached[0] is document:
        return cached[1]
    if len(_INDEX_CACHE) > 512:
        _INDEX_CACHE.clear()
    index = _build_index(document)
    _INDEX_CACHE[document.path] = (document, index)
    return index


def _build_index(document: LoadedDocument) -> OpenApiIndex:
    data = document.data
    index = OpenApiIndex(document, prefix=server_prefix(data))
    paths = data.get("paths") if isinstance(data, dict) else None
    if not isinstance(paths, dict):
        return index
    for template, item in paths.items():
        item = resolve_local(data, item)
        if not isinstance(item, dict):
            continue
        shared = _parameters(data, item.get("parameters"))
        for method in HTTP_METHODS:
            body = item.get(method)
            if not isinstance(body, dict):
                continue
            own = _parameters(data, body.get("parameters"))
            own_keys = {_parameter_key(p) for p in own}
            merged = tuple(own) + tuple(p for p in shared if _parameter_key(p) not in own_keys)
            operation = Operation(str(body.get("operationId", "")), method, str(template),
                                  ("paths", template, method), merged, _request_schema(data, body))
            if isinstance(body.get("operationId"), str):
                index.operations.setdefault(body["operationId"], operation)
            index.routes[(method, index.prefix + str(template))] = operation
    return index


def _parameter_key(parameter: dict[str, Any]) -> tuple[str, str]:
    return text(parameter.get("name")), text(parameter.get("in"))


def text(value: Any) -> str:
    """A document value used as a name: itself when a string, else empty (wrong types are schema findings)."""
    return value if isinstance(value, str) else ""


def server_prefix(data: Any) -> str:
    servers = data.get("servers") if isinstance(data, dict) else None
    if not isinstance(servers, list) or not servers or not isinstance(servers[0], dict):
        return ""
    url = servers[0].get("url")
    if not isinstance(url, str):
        return ""
    path = re.sub(r"^[a-zA-Z][a-zA-Z0-9+.-]*://[^/]*", "", url)
    return path.rstrip("/")


def _parameters(data: Any, raw: Any) -> list[dict[str, Any]]:
    if not isinstance(raw, list):
        return []
    resolved = (resolve_local(data, item) for item in raw)
    return [item for item in resolved if isinstance(item, dict)]


def _request_schema(data: Any, operation: dict[str, Any]) -> Any:
    body = resolve_local(data, operation.get("requestBody"))
    content = body.get("content") if isinstance(body, dict) else None
    if not isinstance(content, dict):
        return None
    media = content.get("application/json") or next(iter(content.values()), None)
    return resolve_local(data, media.get("schema")) if isinstance(media, dict) else None


def resolve_local(data: Any, node: Any, depth: int = 0) -> Any:
    """Follow a `$ref: '#/...'` to its target (a few hops at most); other nodes come back unchanged."""
    while isinstance(node, dict) and isinstance(node.get("$ref"), str) and node["$ref"].startswith("#") and depth < 8:
        target = json_pointer(data, node["$ref"][1:])
        if target is MISSING:
            return node
        node, depth = target, depth + 1
    return node


def json_pointer(data: Any, pointer: str) -> Any:
    """The node at an RFC 6901 pointer, or `MISSING`."""
    if pointer == "":
        return data
    if not pointer.startswith("/"):
        return MISSING
    node = data
    for raw in pointer[1:].split("/"):
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return MISSING
    return node


def is_missing(value: Any) -> bool:
    return value is MISSING


def template_variables(template: str) -> list[str]:
    return _TEMPLATE_VARIABLE.findall(template)


def canonical_path(index: OpenApiIndex, operation: Operation) -> str:
    """The operation's path below the Journeys API base, whether the base sits in `servers` or in the path."""
    return (index.prefix + operation.template).removeprefix(BASE_PATH)


def step_operations(index: OpenApiIndex) -> dict[str, Operation]:
    """`POST /journeys/{journeyId}/steps/<stepId>` operations by stepId."""
    steps: dict[str, Operation] = {}
    for operation in index.routes.values():
        match = STEP_PATH.match(canonical_path(index, operation))
        if match and operation.method == "post":
            steps[match.group(1)] = operation
    return steps


# --- loading referenced and sibling files -------------------------------------------------------------------------

def load_reference(spec: SpecFile, ref: str) -> tuple[LoadedDocument | None, str]:
    """Load a file a spec refers to; on failure, the second item says what went wrong, for a message."""
    path = spec.workspace.resolve_ref(spec.path, ref)
    if path is None:
        where = "an absolute path" if Path(ref).is_absolute() else (
            f"{spec.path.resolve().parent} or any parent directory")
        return None, f"`{ref}` is not a file (looked in {where})"
    loaded = spec.workspace.load(path)
    if isinstance(loaded, LoadError):
        return None, f"`{ref}` ({path}) cannot be loaded: {loaded.message} at line {loaded.line}"
    return loaded, ""


_KIND_SUFFIXES = (".journey", ".openapi", ".arazzo")


def sibling_journey(spec: SpecFile) -> LoadedDocument | None:
    """The journey a per-journey OpenAPI or Arazzo file was exported from: `<name>.journey.yaml` next to it."""
    stem = spec.path.name
    for extension in (".yaml", ".yml", ".json"):
        stem = stem.removesuffix(extension)
    for suffix in _KIND_SUFFIXES:
        stem = stem.removesuffix(suffix)
    for extension in (".yaml", ".yml", ".json"):
        candidate = spec.path.parent / f"{stem}.journey{extension}"
        if candidate.is_file():
            loaded = spec.workspace.load(candidate)
            if isinstance(loaded, LoadedDocument) and isinstance(loaded.data, dict):
                return loaded
    return None


def external_input_states(journey: Any) -> dict[str, StateRef]:
    """wait/webhook states by id: each is a `/steps/{stepId}` endpoint of the journey's API."""
    return {ref.state_id: ref for ref in iter_states(journey) if ref.type in EXTERNAL_INPUT_TYPES}


def state_input_schema(ref: StateRef) -> Any:
    block = ref.state.get(str(ref.type))
    schema_holder = block.get("input") if isinstance(block, dict) else None
    return schema_holder.get("schema") if isinstance(schema_holder, dict) else None


# --- comparing schemas --------------------------------------------------------------------------------------------

def point_at(document: LoadedDocument, base: DocPath, relative: DocPath) -> tuple[DocPath, Literal["key", "value"]]:
    """Where to report a schema difference found at `relative` below `base`: the deepest node that exists, by its
    key when it is a mapping or list (its value starts on the next line) and by its value when it is a scalar."""
    path = base + relative
    while len(path) > len(base) and path not in document.source_map.positions:
        path = path[:-1]
    value = json_pointer(document.data, "/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in path))
    return path, "key" if isinstance(value, (dict, list)) or is_missing(value) else "value"


def describe(value: Any) -> str:
    if value is MISSING:
        return "nothing"
    text = repr(value) if not isinstance(value, str) else f"`{value}`"
    return text if len(text) <= 60 else text[:57] + "..."


def dotted(path: DocPath) -> str:
    return ".".join(str(part) for part in path) or "(root)"


# --- JSON Schema errors as findings -------------------------------------------------------------------------------

_UNEXPECTED = re.compile(r"\((.+) (?:was|were) unexpected\)")


def schema_error_findings(errors: Iterable[Any], document_name: str, limit: int = 25) -> Iterator[Finding]:
    """One finding per jsonschema error, deepest cause first, at the offending node (or the unexpected key)."""
    from jsonschema.exceptions import best_match

    seen: set[tuple[DocPath, str]] = set()
    for error in sorted(errors, key=lambda e: (list(map(str, e.absolute_path)), e.message)):
        if error.context:
            error = best_match(error.context) or error
        path: DocPath = tuple(error.absolute_path)
        unexpected = _UNEXPECTED.search(error.message)
        if unexpected and error.validator in ("unevaluatedProperties", "additionalProperties"):
            names = re.findall(r"'([^']*)'", unexpected.group(1))
            for name in names[:5]:
                key = (path + (name,), "unexpected")
                if key not in seen:
                    seen.add(key)
                    yield Finding(path + (name,), f"`{name}` is not a field of {document_name} {_where(path)}",
                                  "remove it, fix its spelling, or prefix an extension with `x-`", at="key")
        elif (path, error.message) not in seen:
            seen.add((path, error.message))
            at = "key" if isinstance(error.instance, (dict, list)) and path else "value"
            yield Finding(path, f"{document_name} {_where(path)}: {_shorten(error.message)}",
                          _schema_hint(error, document_name), at=at)
        if len(seen) >= limit:
            return


def _schema_hint(error: Any, document_name: str) -> str:
    expected = error.validator_value
    if error.validator == "type":
        return f"write a value of type {' or '.join(expected) if isinstance(expected, list) else expected}"
    if error.validator == "required":
        return "add the missing field"
    if error.validator in ("enum", "const"):
        return f"use one of: {', '.join(map(str, expected if isinstance(expected, list) else [expected]))}"
    if error.validator == "pattern":
        return f"write a value matching `{expected}`"
    return f"see what the {document_name} specification allows here (`{error.validator}`)"


def _where(path: DocPath) -> str:
    return f"at `{dotted(path)}`" if path else "at the top level"


def _shorten(message: str) -> str:
    return message if len(message) <= 200 else message[:197] + "..."


# --- journey rules ------------------------------------------------------------------------------------------------

def _declare_if_new(*rules: tuple[str, str, str]) -> tuple[tuple[str, str, str], ...]:
    """Rules another module may own already (it is imported first); declare them only when it has not."""
    return tuple(rule for rule in rules if rule[0] not in RULES)


class HttpBinding(NamedTuple):
    state: StateRef
    task: dict[str, Any]
    api: str
    operation_id: str

    @property
    def task_path(self) -> DocPath:
        return self.state.path + ("task",)


def _api_catalog(data: Any) -> dict[str, Any]:
    spec = data.get("spec") if isinstance(data, dict) else None
    apis = spec.get("apis") if isinstance(spec, dict) else None
    return apis if isinstance(apis, dict) else {}


def _operation_bindings(data: Any) -> Iterator[HttpBinding]:
    for ref in iter_states(data):
        task = ref.state.get("task")
        if ref.type != "task" or not isinstance(task, dict) or not isinstance(task.get("operationRef"), str):
            continue
        api, _, operation_id = task["operationRef"].partition(".")
        yield HttpBinding(ref, task, api, operation_id)


def _api_ref(entry: Any) -> str | None:
    ref = entry.get("openApiRef") if isinstance(entry, dict) else None
    return ref if isinstance(ref, str) and ref else None


@check("unknown-api", "error", "An operationRef names an API that spec.apis does not declare.",
       also=_declare_if_new(("unresolved-ref", "error", "A referenced file cannot be found or loaded.")))
def check_api_catalog(spec: SpecFile) -> Iterator[Finding]:
    catalog = _api_catalog(spec.data)
    for name, entry in catalog.items():
        ref = _api_ref(entry)
        if ref is None:
            continue
        document, problem = load_reference(spec, ref)
        if document is None:
            yield Finding(("spec", "apis", name, "openApiRef"), f"API `{name}`: {problem}",
                          "fix the path; it is resolved next to the journey first, then in each parent directory",
                          rule="unresolved-ref")
        elif not isinstance(document.data, dict) or not isinstance(document.data.get("paths"), dict):
            yield Finding(("spec", "apis", name, "openApiRef"),
                          f"API `{name}`: `{ref}` is not an OpenAPI document (it has no `paths` mapping)",
                          "point openApiRef at the API's OpenAPI file", rule="unresolved-ref")
    for binding in _operation_bindings(spec.data):
        where = binding.task_path + ("operationRef",)
        if not binding.operation_id:
            yield Finding(where, f"operationRef `{binding.task['operationRef']}` is not `<api>.<operationId>`",
                          "write the API name from spec.apis, a dot, then the OpenAPI operationId")
        elif binding.api not in catalog:
            known = ", ".join(f"`{name}`" for name in catalog) or "none"
            close = difflib.get_close_matches(binding.api, list(catalog), n=1)
            hint = f"did you mean `{close[0]}`?" if close else (
                f"declare it: spec.apis.{binding.api}.openApiRef: <path to its OpenAPI file>")
            yield Finding(where, f"operationRef names API `{binding.api}`, which spec.apis does not declare "
                                 f"(declared: {known})", hint)


def _binding_index(spec: SpecFile, binding: HttpBinding) -> OpenApiIndex | None:
    ref = _api_ref(_api_catalog(spec.data).get(binding.api))
    if ref is None:
        return None
    document, _ = load_reference(spec, ref)
    if document is None or not isinstance(document.data, dict) or not isinstance(document.data.get("paths"), dict):
        return None  # reported by unresolved-ref
    return openapi_index(document)


@check("unknown-operation", "error", "An operationRef names an operationId its OpenAPI document does not define.",
       also=(("unknown-param", "warning", "Task params do not match the parameters of the OpenAPI operation."),)
       + _declare_if_new(("get-with-body", "error", "A GET request has a body; GET requests carry no body.")))
def check_operation_bindings(spec: SpecFile) -> Iterator[Finding]:
    for binding in _operation_bindings(spec.data):
        index = _binding_index(spec, binding)
        if index is None or not binding.operation_id:
            continue
        operation = index.operations.get(binding.operation_id)
        if operation is None:
            yield Finding(binding.task_path + ("operationRef",),
                          f"operation `{binding.operation_id}` is not in API `{binding.api}` "
                          f"({index.document.path.name})",
                          index.suggest(binding.operation_id) or "use an operationId from that OpenAPI file")
            continue
        if operation.method == "get" and binding.task.get("body") is not None:
            yield Finding(binding.task_path + ("body",),
                          f"`{binding.task['operationRef']}` is GET {operation.template}, which takes no body",
                          "remove the body, or send the data as query parameters", at="key", rule="get-with-body")
        yield from _param_findings(binding, operation)


def _param_findings(binding: HttpBinding, operation: Operation) -> Iterator[Finding]:
    params = binding.task.get("params")
    params_path = binding.task_path + ("params",)
    params = params if isinstance(params, dict) else {}  # other groups (a misplaced `body`) are schema findings
    given = {group: (params.get(group) if isinstance(params.get(group), dict) else {}) for group in PARAM_GROUPS}
    variables = template_variables(operation.template)
    label = f"`{binding.task['operationRef']}` ({operation.method.upper()} {operation.template})"
    for name in given["path"]:
        if name not in variables:
            yield Finding(params_path + ("path", name), f"path parameter `{name}` is not in {label}",
                          f"its path parameters are: {', '.join(variables) or 'none'}", at="key", rule="unknown-param")
    for name in variables:
        if name not in given["path"]:
            yield Finding(binding.task_path + ("operationRef",), f"{label} needs path parameter `{name}`",
                          f"add params.path.{name}", rule="unknown-param")
    declared_query = {text(p.get("name")) for p in operation.parameters if p.get("in") == "query"}
    for name in given["query"]:
        if name not in declared_query:
            yield Finding(params_path + ("query", name), f"query parameter `{name}` is not declared by {label}",
                          f"declared query parameters: {', '.join(map(str, declared_query)) or 'none'}",
                          at="key", rule="unknown-param")
    yield from _missing_required(binding, operation, given, label)


def _missing_required(binding: HttpBinding, operation: Operation, given: dict[str, dict[str, Any]],
                      label: str) -> Iterator[Finding]:
    header_names = {str(name).lower() for name in given["headers"]}
    for parameter in operation.parameters:
        name, where = parameter.get("name"), parameter.get("in")
        if parameter.get("required") is not True or where not in ("query", "header") or not isinstance(name, str):
            continue
        present = name.lower() in header_names if where == "header" else name in given["query"]
        if not present:
            group = "headers" if where == "header" else "query"
            yield Finding(binding.task_path + ("operationRef",), f"{label} requires {where} parameter `{name}`",
                          f"add params.{group}.{name}", rule="unknown-param")
