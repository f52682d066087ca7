"""An OpenAPI document's operations, by operationId and by route, with path-level parameters merged in and local
`$ref`s followed; plus the JSON pointer and Journeys API path helpers the cross-file checks share."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from jctl.diagnostics import DocPath
from jctl.spec.loader import LoadedDocument

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
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
        import difflib  # only for a misspelling: not worth its import on every run

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
    return as_name(parameter.get("name")), as_name(parameter.get("in"))


def as_name(value: Any) -> str:
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
