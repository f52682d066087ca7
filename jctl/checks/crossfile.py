"""Cross-file checks: each `operationRef` in a journey against the OpenAPI document its API catalog names."""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import Any, NamedTuple

from jctl.checks import SpecFile, check
from jctl.checks.linked import load_reference
from jctl.checks.openapi_index import OpenApiIndex, Operation, as_name, openapi_index, template_variables
from jctl.diagnostics import RULES, DocPath, Finding, Severity
from jctl.spec.model import StateRef, iter_states

PARAM_GROUPS = {"path": "path", "query": "query", "headers": "header"}


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
    params_path = binding.task_path + ("params",)
    params = _mapping(binding.task.get("params"))
    # Only the groups an OpenAPI operation declares; anything else (a misplaced `body`) is a schema finding.
    given = {group: _mapping(params.get(group)) for group in PARAM_GROUPS}
    variables = template_variables(operation.template)
    label = f"`{binding.task['operationRef']}` ({operation.method.upper()} {operation.template})"
    for name in given["path"]:
        if name not in variables:
            yield Finding(params_path + ("path", name), f"path parameter `{name}` is not in {label}",
                          f"its path parameters are: {', '.join(variables) or 'none'}", at="key", rule="unknown-param")
    for name in variables:
        if name not in given["path"]:
            # an error, not the rule's warning: without it the URL cannot be built and the task always fails
            yield Finding(binding.task_path + ("operationRef",),
                          f"{label} needs path parameter `{name}`; without it the call cannot be made",
                          f"add params.path.{name}", rule="unknown-param", severity=Severity.ERROR)
    declared_query = {as_name(p.get("name")) for p in operation.parameters if p.get("in") == "query"}
    for name in given["query"]:
        if name not in declared_query:
            yield Finding(params_path + ("query", name), f"query parameter `{name}` is not declared by {label}",
                          f"declared query parameters: {', '.join(map(str, declared_query)) or 'none'}",
                          at="key", rule="unknown-param")
    yield from _missing_required(binding, operation, given, label)


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


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
