"""Arazzo files: the Arazzo 1.0 schema, the operations and references their steps name, and a per-journey
workflow file against its journey and OpenAPI export (arazzo-export.md).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from jctl.checks import SpecFile, check
from jctl.checks.linked import (
    compiled_validator, dotted, load_reference, point_at, quickly_valid, schema_error_findings, sibling_journey,
)
from jctl.checks.openapi import without_dynamic_refs
from jctl.checks.openapi_index import (
    OpenApiIndex, Operation, as_name, json_pointer, openapi_index, resolve_local, step_operations, template_variables,
)
from jctl.checks.schema_compare import schema_incompatibility
from jctl.checks.runtime_expression import ExpressionError, expression_sites, site_expressions
from jctl.diagnostics import DocPath, Finding, path_text
from jctl.spec.scalars import inline_offset
from jctl.spec.model import iter_states, node_at

_QUALIFIED_ID = re.compile(r"^\$sourceDescriptions\.([^.]+)\.(.+)$")
_OPERATION_PATH = re.compile(r"^\{\$sourceDescriptions\.([^.}]+)\.url\}#(.*)$")
_EXPRESSION = re.compile(r"\$(steps|inputs|workflows|sourceDescriptions)\.([A-Za-z0-9_\-]+)"
                         r"(?:\.(outputs)\.([A-Za-z0-9_\-]+))?")
# OpenAPI ignores header parameters with these names: security schemes and media types carry them
_IMPLICIT_HEADERS = {("authorization", "header"), ("accept", "header"), ("content-type", "header")}
_REMOTE = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")

_METASCHEMA = "https://json-schema.org/draft/2020-12/schema"


@cache
def _static_metaschema_registry() -> Any:
    """A `referencing` registry holding the JSON Schema 2020-12 metaschemas with their dynamic refs made static."""
    from jsonschema_specifications import REGISTRY
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    resources = [(uri, Resource.from_contents(without_dynamic_refs(REGISTRY[uri].contents, _METASCHEMA),
                                              default_specification=DRAFT202012))
                 for uri in REGISTRY if uri.startswith("https://json-schema.org/draft/2020-12/")]
    return Registry().with_resources(resources)


@cache
def _schema() -> Any:
    # read beside the package, not through importlib.resources, whose import costs more than this whole check
    return json.loads((Path(__file__).resolve().parents[1] / "data" / "arazzo-1.0.schema.json").read_text("utf-8"))


@cache
def _schema_validator() -> Any:
    import jsonschema

    return jsonschema.Draft202012Validator(_schema(), registry=_static_metaschema_registry())


@cache
def _compiled_schema_validator() -> Any | None:
    return compiled_validator(_schema())


@check("arazzo-schema", "error", "The file does not conform to the Arazzo 1.0 schema.", kinds=("arazzo",))
def check_arazzo_schema(spec: SpecFile) -> Iterator[Finding]:
    if isinstance(spec.data, dict) and not quickly_valid(_compiled_schema_validator(), spec.data):
        yield from schema_error_findings(_schema_validator().iter_errors(spec.data), "Arazzo")


# --- what a file's steps call -------------------------------------------------------------------------------------

@dataclass
class Sources:
    """Each sourceDescription by name: its OpenAPI index, or None when it cannot be read (remote, missing, Arazzo)."""

    indexes: dict[str, OpenApiIndex | None]

    def candidates(self, step: dict[str, Any]) -> list[OpenApiIndex | None]:
        named = step.get("x-source")
        if isinstance(named, str) and named in self.indexes:
            return [self.indexes[named]]
        return list(self.indexes.values())


def _sources(spec: SpecFile, report: list[Finding] | None = None) -> Sources:
    indexes: dict[str, OpenApiIndex | None] = {}
    for position, source in _mappings(node_at(spec.data, ("sourceDescriptions",))):
        if not isinstance(source.get("name"), str):
            continue
        indexes[source["name"]] = _source_index(spec, source, ("sourceDescriptions", position, "url"), report)
    return Sources(indexes)


def _source_index(spec: SpecFile, source: dict[str, Any], where: DocPath,
                  report: list[Finding] | None) -> OpenApiIndex | None:
    url = source.get("url")
    if not isinstance(url, str) or _REMOTE.match(url):
        return None  # remote sources are not fetched
    document, problem = load_reference(spec, url.split("#", 1)[0])
    if document is None:
        if report is not None:
            report.append(Finding(where, f"source `{source['name']}`: {problem}",
                                  "fix the url; it is resolved next to this file first, then in each parent directory"))
        return None
    if source.get("type", "openapi") != "openapi":
        return None
    if not isinstance(document.data, dict) or not isinstance(document.data.get("paths"), dict):
        if report is not None:
            report.append(Finding(where, f"source `{source['name']}`: `{url}` is not an OpenAPI document "
                                         "(it has no `paths` mapping)", "point the url at an OpenAPI file"))
        return None
    return openapi_index(document)


def _mappings(raw: Any) -> list[tuple[int, dict[str, Any]]]:
    """The mapping items of a list with their positions (other items are schema findings)."""
    return [(i, item) for i, item in enumerate(raw) if isinstance(item, dict)] if isinstance(raw, list) else []


def _workflows(data: Any) -> list[tuple[int, dict[str, Any]]]:
    return _mappings(node_at(data, ("workflows",)))


def _steps(workflow: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    return _mappings(workflow.get("steps"))


@dataclass(frozen=True)
class Resolution:
    """Where a step's operation was found, or why it was not (neither when it cannot be told)."""

    operation: Operation | None = None
    index: OpenApiIndex | None = None
    problem: str | None = None
    hint: str = ""


def _resolve_step(step: dict[str, Any], sources: Sources) -> Resolution:
    operation_id, operation_path = step.get("operationId"), step.get("operationPath")
    if isinstance(operation_id, str):
        return _resolve_operation_id(operation_id, step, sources)
    if isinstance(operation_path, str):
        return _resolve_operation_path(operation_path, sources)
    return Resolution()


def _resolve_operation_id(operation_id: str, step: dict[str, Any], sources: Sources) -> Resolution:
    qualified = _QUALIFIED_ID.match(operation_id)
    if qualified:
        name, operation_id = qualified.groups()
        if name not in sources.indexes:
            return Resolution(problem=f"source `{name}` is not in sourceDescriptions",
                              hint=f"declared sources: {', '.join(sources.indexes) or 'none'}")
        candidates = [sources.indexes[name]]
    else:
        candidates = sources.candidates(step)
    holders = [(name, index) for name, index in sources.indexes.items()
               if index is not None and any(index is c for c in candidates) and operation_id in index.operations]
    if len(holders) > 1 and not qualified:
        names = ", ".join(f"`{name}`" for name, _ in holders)
        return Resolution(problem=f"operationId `{operation_id}` is in several sources ({names})",
                          hint=f"qualify it: `$sourceDescriptions.{holders[0][0]}.{operation_id}`")
    for index in candidates:
        if index is not None and operation_id in index.operations:
            return Resolution(index.operations[operation_id], index)
    if not candidates or any(index is None for index in candidates):
        return Resolution()  # an unreadable source may hold it
    names = ", ".join(index.document.path.name for index in candidates if index is not None)
    hints = [index.suggest(operation_id) for index in candidates if index is not None]
    return Resolution(problem=f"operationId `{operation_id}` is not in {names}",
                      hint=next((h for h in hints if h), "use an operationId the source OpenAPI file defines"))


def _resolve_operation_path(operation_path: str, sources: Sources) -> Resolution:
    match = _OPERATION_PATH.match(operation_path)
    if not match:
        return Resolution()
    name, pointer = match.groups()
    if name not in sources.indexes:
        return Resolution(problem=f"source `{name}` is not in sourceDescriptions")
    index = sources.indexes[name]
    if index is None:
        return Resolution()
    parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:]]
    node = json_pointer(index.document.data, pointer)
    if len(parts) == 3 and parts[0] == "paths" and isinstance(node, dict):
        operation = index.routes.get((parts[2], index.prefix + parts[1]))
        if operation is not None:
            return Resolution(operation, index)
    return Resolution(problem=f"`#{pointer}` is not an operation in {index.document.path.name}",
                      hint="write the pointer as #/paths/<path with / as ~1>/<method>")


@check("arazzo-unknown-operation", "error", "A step's operationId or operationPath is not in its source description.",
       kinds=("arazzo",),
       also=(("arazzo-source", "error", "A sourceDescriptions url cannot be resolved to a readable file."),
             ("arazzo-unknown-param", "warning", "A step's path parameters do not match the operation's path.")))
def check_step_operations(spec: SpecFile) -> Iterator[Finding]:
    report: list[Finding] = []
    sources = _sources(spec, report)
    for finding in report:
        yield finding._replace(rule="arazzo-source")
    for w, workflow in _workflows(spec.data):
        for s, step in _steps(workflow):
            at: DocPath = ("workflows", w, "steps", s)
            resolution = _resolve_step(step, sources)
            field = "operationId" if isinstance(step.get("operationId"), str) else "operationPath"
            if resolution.problem:
                yield Finding(at + (field,), f"step `{step.get('stepId')}`: {resolution.problem}",
                              resolution.hint or "fix the reference")
            elif resolution.operation is not None:
                yield from _parameter_findings(step, at, resolution.operation)
                yield from _request_body_findings(step, at, resolution)


def _request_body_findings(step: dict[str, Any], at: DocPath, resolution: Resolution) -> Iterator[Finding]:
    operation, index = resolution.operation, resolution.index
    if operation is None or index is None or "requestBody" not in step:
        return
    declared = node_at(index.document.data, operation.path)
    if isinstance(declared, dict) and "requestBody" not in declared:
        yield Finding(at + ("requestBody",), f"step `{step.get('stepId')}` sends a request body, but "
                                             f"{operation.method.upper()} {operation.template} declares none",
                      "remove the requestBody, or declare one on the operation", at="key",
                      rule="arazzo-unknown-param")


def _declared_parameters(operation: Operation) -> set[tuple[str, str]]:
    """(name, in) of each parameter the operation declares; header names compare case-insensitively."""
    declared = set()
    for parameter in operation.parameters:
        name, where = as_name(parameter.get("name")), as_name(parameter.get("in"))
        declared.add((name.lower() if where == "header" else name, where))
    return declared


def _parameter_findings(step: dict[str, Any], at: DocPath, operation: Operation) -> Iterator[Finding]:
    parameters = _mappings(step.get("parameters"))
    variables = template_variables(operation.template)
    given = {as_name(p.get("name")) for _, p in parameters if p.get("in") == "path"}
    label = f"{operation.method.upper()} {operation.template}"
    for i, parameter in parameters:
        if parameter.get("in") == "path" and parameter.get("name") not in variables:
            yield Finding(at + ("parameters", i, "name"),
                          f"path parameter `{parameter.get('name')}` is not in {label}",
                          f"its path parameters are: {', '.join(variables) or 'none'}", rule="arazzo-unknown-param")
    declared = _declared_parameters(operation)
    for i, parameter in parameters:
        where, name = as_name(parameter.get("in")), as_name(parameter.get("name"))
        key = (name.lower() if where == "header" else name, where)
        if where in ("query", "header", "cookie") and name and key not in declared and key not in _IMPLICIT_HEADERS:
            yield Finding(at + ("parameters", i, "name"), f"{where} parameter `{name}` is not a parameter of {label}",
                          "name a parameter the operation declares, or declare it in the OpenAPI file",
                          rule="arazzo-unknown-param")
    if any("reference" in p for _, p in parameters):
        return  # reusable parameters may supply the rest
    for name in variables:
        if name not in given:
            yield Finding(at + ("stepId",) if "stepId" in step else at,
                          f"step `{step.get('stepId')}` calls {label} without path parameter `{name}`",
                          f"add `- {{name: {name}, in: path, value: ...}}` to its parameters",
                          rule="arazzo-unknown-param")


# --- references inside a workflow ---------------------------------------------------------------------------------

def _strings(node: Any, at: DocPath) -> Iterator[tuple[DocPath, str]]:
    stack: list[tuple[Any, DocPath]] = [(node, at)]
    while stack:
        current, path = stack.pop()
        if isinstance(current, str):
            yield path, current
        elif isinstance(current, dict):
            stack.extend((value, path + (key,)) for key, value in current.items() if key != "inputs")
        elif isinstance(current, list):
            stack.extend((value, path + (index,)) for index, value in enumerate(current))


@check("arazzo-unknown-reference", "error",
       "A runtime expression or goto names a step, output, input, workflow or source that does not exist.",
       kinds=("arazzo",))
def check_workflow_references(spec: SpecFile) -> Iterator[Finding]:
    workflows = _workflows(spec.data)
    workflow_ids = {as_name(w.get("workflowId")) for _, w in workflows}
    source_names = {as_name(s.get("name")) for _, s in _mappings(node_at(spec.data, ("sourceDescriptions",)))}
    for w, workflow in workflows:
        steps = {as_name(step.get("stepId")): (s, step) for s, step in _steps(workflow)}
        inputs = resolve_local(spec.data, workflow.get("inputs"))
        input_names = inputs.get("properties") if isinstance(inputs, dict) else None
        context = _Names(steps, input_names if isinstance(input_names, dict) else None, workflow_ids, source_names,
                         {as_name(other.get("workflowId")): set(map(str, other["outputs"]))
                          for _, other in workflows if isinstance(other.get("outputs"), dict)})
        for path, value in _strings(workflow, ("workflows", w)):
            problem = _expression_problem(value, path, context) or _goto_problem(path, value, context)
            if problem:
                yield Finding(path, f"workflow `{workflow.get('workflowId')}`: {problem[0]}", problem[1])


@dataclass
class _Names:
    steps: dict[Any, tuple[int, dict[str, Any]]]
    inputs: dict[str, Any] | None
    workflows: set[Any]
    sources: set[Any]
    workflow_outputs: dict[Any, set[str]] = field(default_factory=dict)


def _expression_problem(text: str, path: DocPath, names: _Names) -> tuple[str, str] | None:
    for match in _EXPRESSION.finditer(text):
        kind, name, outputs, output = match.groups()
        if kind == "steps":
            if name not in names.steps:
                return f"`{match.group(0)}` names no step of this workflow", _known("steps", names.steps)
            step_outputs = names.steps[name][1].get("outputs")
            if output and (not isinstance(step_outputs, dict) or output not in step_outputs):
                declared = ", ".join(map(str, step_outputs)) if isinstance(step_outputs, dict) else ""
                return (f"`{match.group(0)}`: step `{name}` has no output `{output}`",
                        f"add `{output}` to its outputs" + (f", or use one of: {declared}" if declared else ""))
            current = path[3] if len(path) > 3 and path[2] == "steps" else None
            if isinstance(current, int) and names.steps[name][0] > current:
                return f"`{match.group(0)}` reads step `{name}`, which runs later", "reorder the steps"
        elif kind == "inputs" and names.inputs is not None and name not in names.inputs:
            return f"`{match.group(0)}` names no workflow input", _known("inputs", names.inputs)
        elif kind == "workflows" and name not in names.workflows:
            return f"`{match.group(0)}` names no workflow in this file", _known("workflows", names.workflows)
        elif kind == "workflows" and output and name in names.workflow_outputs \
                and output not in names.workflow_outputs[name]:
            return (f"`{match.group(0)}`: workflow `{name}` has no output `{output}`",
                    _known("outputs", names.workflow_outputs[name]))
        elif kind == "sourceDescriptions" and name not in names.sources:
            return f"`{match.group(0)}` names no source description", _known("sources", names.sources)
    return None


def _goto_problem(path: DocPath, text: str, names: _Names) -> tuple[str, str] | None:
    if len(path) < 2 or not isinstance(path[-2], (str, int)):
        return None
    field, holder = path[-1], path[-2] if isinstance(path[-2], str) else path[-3]
    in_actions = holder in ("onSuccess", "onFailure", "successActions", "failureActions")
    if field == "stepId" and in_actions and text not in names.steps:
        return f"goto step `{text}` is not a step of this workflow", _known("steps", names.steps)
    if ((field == "workflowId" and in_actions) or holder == "dependsOn") and not text.startswith("$") \
            and text not in names.workflows:
        return f"workflow `{text}` is not in this file", _known("workflows", names.workflows)
    return None


def _known(label: str, names: Any) -> str:
    shown = [str(name) for name in names if name is not None]
    return f"known {label}: {', '.join(shown)}" if shown else f"this workflow declares no {label}"


@check("arazzo-expression", "error",
       "A runtime expression does not follow the Arazzo 1.0 grammar (its ABNF).", kinds=("arazzo",),
       also=(("arazzo-body-pointer", "error",
              "`$response.body.field` where the grammar reads `$response.body#/field`: a runner reads nothing "
              "(`--fix` rewrites it)."),))
def check_expression_grammar(spec: SpecFile) -> Iterator[Finding]:
    for path, text, mode in expression_sites(spec.data):
        for parsed in site_expressions(text, mode):
            if isinstance(parsed, ExpressionError):
                yield Finding(path, parsed.message, parsed.hint, offset=inline_offset(spec.document, path, parsed.start),
                              rule="arazzo-body-pointer" if parsed.dotted_body else "arazzo-expression")


@check("arazzo-duplicate-id", "error",
       "Two workflows, two steps of a workflow, two source descriptions or two parameters share an id.",
       kinds=("arazzo",))
def check_unique_ids(spec: SpecFile) -> Iterator[Finding]:
    yield from _duplicates(_mappings(node_at(spec.data, ("sourceDescriptions",))), ("sourceDescriptions",),
                           "name", "source description")
    workflows = _workflows(spec.data)
    yield from _duplicates(workflows, ("workflows",), "workflowId", "workflowId")
    for w, workflow in workflows:
        yield from _duplicates(_steps(workflow), ("workflows", w, "steps"), "stepId", "stepId")
        for s, step in _steps(workflow):
            seen: dict[tuple[Any, Any], int] = {}
            for p, parameter in _mappings(step.get("parameters")):
                key = (as_name(parameter.get("name")), as_name(parameter.get("in")))
                if key[0] and key in seen:
                    yield Finding(("workflows", w, "steps", s, "parameters", p, "name"),
                                  f"parameter `{key[0]}` (in: {key[1]}) is given twice in step `{step.get('stepId')}`",
                                  f"remove one; the first is parameters[{seen[key]}]", rule="arazzo-duplicate-id")
                seen.setdefault(key, p)


def _duplicates(items: list[tuple[int, dict[str, Any]]], at: DocPath, field: str, label: str) -> Iterator[Finding]:
    first: dict[str, int] = {}
    for position, item in items:
        value = item.get(field)
        if not isinstance(value, str):
            continue
        if value in first:
            yield Finding(at + (position, field), f"{label} `{value}` is used twice (first at "
                                                  f"{path_text(at + (first[value],))})", f"give each a unique {field}")
        first.setdefault(value, position)


# --- the workflow file against its journey ------------------------------------------------------------------------

@check("arazzo-missing-workflow", "error", "A journey's Arazzo file lacks the `<journey>-happy-path` workflow.",
       kinds=("arazzo",),
       also=(("arazzo-missing-step", "warning", "A wait state of the journey is never submitted by any workflow."),))
def check_journey_workflows(spec: SpecFile) -> Iterator[Finding]:
    journey = sibling_journey(spec)
    if journey is None or journey.data.get("kind") != "Journey" or not isinstance(spec.data, dict):
        return
    name = journey.data.get("metadata", {}).get("name") if isinstance(journey.data.get("metadata"), dict) else None
    workflows = _workflows(spec.data)
    if isinstance(name, str) and f"{name}-happy-path" not in {as_name(w.get("workflowId")) for _, w in workflows}:
        found = ", ".join(f"`{w.get('workflowId')}`" for _, w in workflows) or "none"
        yield Finding(("workflows",), f"no workflow `{name}-happy-path` (found: {found})",
                      "every journey has one canonical workflow named `<journey>-happy-path`", at="key")
    yield from _unsubmitted_waits(spec, journey.data, workflows)


def _unsubmitted_waits(spec: SpecFile, journey: Any, workflows: list[tuple[int, dict[str, Any]]]) -> Iterator[Finding]:
    sources = _sources(spec)
    called = {(id(r.index), r.operation.method, r.operation.template)
              for _, workflow in workflows for _, step in _steps(workflow)
              for r in [_resolve_step(step, sources)] if r.operation is not None}
    for index in (i for i in sources.indexes.values() if i is not None):
        steps = step_operations(index)
        for ref in iter_states(journey):
            operation = steps.get(ref.state_id)
            if ref.type != "wait" or operation is None:
                continue
            if (id(index), operation.method, operation.template) not in called:
                yield Finding(("workflows",), f"no workflow submits the wait step `{ref.state_id}` "
                                              f"(`{operation.operation_id or operation.template}`)",
                              "add a step calling it to the workflow where the client provides that input",
                              at="key", rule="arazzo-missing-step")


@check("arazzo-input-mismatch", "warning",
       "A workflow input sent as a request body differs from that operation's request schema.", kinds=("arazzo",))
def check_input_schemas(spec: SpecFile) -> Iterator[Finding]:
    sources = _sources(spec)
    for w, workflow in _workflows(spec.data):
        inputs = resolve_local(spec.data, workflow.get("inputs"))
        properties = inputs.get("properties") if isinstance(inputs, dict) else None
        if not isinstance(properties, dict):
            continue
        for _, step in _steps(workflow):
            body = step.get("requestBody")
            payload = body.get("payload") if isinstance(body, dict) else None
            match = re.fullmatch(r"\$inputs\.([A-Za-z0-9_\-]+)", payload) if isinstance(payload, str) else None
            if not match or not isinstance(properties.get(match.group(1)), dict):
                continue
            resolution = _resolve_step(step, sources)
            if resolution.operation is None or resolution.operation.request_schema is None:
                continue
            name = match.group(1)
            problem = schema_incompatibility(properties[name], resolution.operation.request_schema,
                                             resolution.index.document.data if resolution.index else None)
            if problem is None:
                continue
            at, what = problem
            base: DocPath = ("workflows", w, "inputs", "properties", name)
            where, anchor = point_at(spec.document, base, at)
            yield Finding(where, f"input `{name}` is sent as the body of step `{step.get('stepId')}`, but at "
                                 f"`{dotted(at)}` it {what}, so the call can be invalid",
                          "make the workflow input at least as strict as the OpenAPI request schema", at=anchor)
