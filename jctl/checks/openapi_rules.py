"""What an OpenAPI document's schema cannot say about its operations: unique operationIds, path templates and
`in: path` parameters that agree both ways, and a success response for every operation."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from jctl.checks import SpecFile, check
from jctl.checks.openapi_index import HTTP_METHODS, template_variables
from jctl.checks.openapi_refs import resolve
from jctl.diagnostics import DocPath, Finding, path_text

_SUCCESS = re.compile(r"^[23](?:\d\d|XX)$", re.IGNORECASE)


@dataclass(frozen=True)
class _Op:
    template: str
    method: str
    path: DocPath
    body: dict[str, Any]
    item_path: DocPath  # where the path item's own parameters live (its `$ref` target when it has one)
    item: dict[str, Any]


def _operations(spec: SpecFile) -> Iterator[_Op]:
    if not isinstance(spec.data, dict) or not str(spec.data.get("openapi", "")).startswith("3."):
        return  # not OpenAPI 3: openapi-invalid says so
    paths = spec.data.get("paths")
    if not isinstance(paths, dict):
        return
    for template, raw_item in paths.items():
        target = resolve(spec, spec.document, raw_item)
        if target is None or not isinstance(target.node, dict):
            continue
        if target.document is not spec.document:
            continue  # a path item in another file is checked where it is written
        item_path = target.path or ("paths", template)
        for method in HTTP_METHODS:
            body = target.node.get(method)
            if isinstance(body, dict):
                yield _Op(str(template), method, item_path + (method,), body, item_path, target.node)


@check("openapi-duplicate-operation-id", "error", "Two operations share an operationId.", kinds=("openapi",))
def check_duplicate_operation_ids(spec: SpecFile) -> Iterator[Finding]:
    first: dict[str, DocPath] = {}
    for op in _operations(spec):
        operation_id = op.body.get("operationId")
        if not isinstance(operation_id, str):
            continue
        where = op.path + ("operationId",)
        if operation_id in first:
            line = spec.document.source_map.line_col(first[operation_id], "value")[0]
            yield Finding(where, f"operationId `{operation_id}` of {op.method.upper()} {op.template} is already "
                                 f"used on line {line} ({path_text(first[operation_id][:-1])})",
                          "operationIds must be unique in the document: rename one")
        first.setdefault(operation_id, where)


@dataclass(frozen=True)
class _Parameter:
    name: str
    where: str
    path: DocPath  # the parameter (or its `$ref`) in this document
    local: bool  # written in this document (a `$ref`'d one is reported at the `$ref`)


def _parameters(spec: SpecFile, raw: Any, at: DocPath) -> list[_Parameter] | None:
    """The parameters of a `parameters` list, `$ref`s followed; None when one cannot be read (reported elsewhere)."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        return None
    found = []
    for index, item in enumerate(raw):
        target = resolve(spec, spec.document, item)
        if target is None or not isinstance(target.node, dict):
            return None
        name, where = target.node.get("name"), target.node.get("in")
        if not isinstance(name, str) or not isinstance(where, str):
            return None
        found.append(_Parameter(name, where, at + (index,), target.path == ()))
    return found


@check("openapi-path-params", "error",
       "A `{name}` of a path template has no `in: path` parameter, or an `in: path` parameter is not in the template.",
       kinds=("openapi",))
def check_path_parameters(spec: SpecFile) -> Iterator[Finding]:
    reported: set[DocPath] = set()
    for op in _operations(spec):
        shared = _parameters(spec, op.item.get("parameters"), op.item_path + ("parameters",))
        own = _parameters(spec, op.body.get("parameters"), op.path + ("parameters",))
        if shared is None or own is None:
            continue
        keys = {(p.name, p.where) for p in own}
        merged = own + [p for p in shared if (p.name, p.where) not in keys]
        variables = template_variables(op.template)
        declared = {p.name for p in merged if p.where == "path"}
        missing = [name for name in variables if name not in declared]
        if missing:
            names = ", ".join(f"`{{{name}}}`" for name in missing)
            yield Finding(op.path, f"{op.method.upper()} {op.template}: {names} in the path has no `in: path` "
                                   "parameter", f"add `- {{name: {missing[0]}, in: path, required: true, schema: "
                                                "{type: string}}` to its parameters (or the path's)", at="key")
        for parameter in merged:
            if parameter.where != "path" or parameter.name in variables or parameter.path in reported:
                continue
            reported.add(parameter.path)
            yield Finding(parameter.path + (("name",) if parameter.local else ("$ref",)),
                          f"path parameter `{parameter.name}` is not in the path `{op.template}`",
                          f"add `{{{parameter.name}}}` to the path, or make it a query parameter",
                          at="value")


@check("openapi-no-success-response", "warning",
       "An operation declares no 2xx or 3xx response (and no `default`).", kinds=("openapi",))
def check_success_responses(spec: SpecFile) -> Iterator[Finding]:
    for op in _operations(spec):
        responses = op.body.get("responses")
        if not isinstance(responses, dict) or not responses:
            continue  # a missing or empty `responses` is a schema finding (3.0) or allowed (3.1)
        codes = [str(code) for code in responses]
        if not any(_SUCCESS.match(code) or code == "default" for code in codes):
            yield Finding(op.path + ("responses",), f"{op.method.upper()} {op.template} declares only "
                                                    f"{', '.join(codes)} responses: no success",
                          "declare the 2xx (or 3xx) response a client gets when the call works", at="key")
