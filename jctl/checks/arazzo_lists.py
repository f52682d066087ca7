"""Arazzo rules the peer linters have and the schema cannot say: repeated action names and replacement targets,
request-body media types, identifiers runtime expressions cannot name, script in Markdown descriptions, and
`$components.…` references and local `$ref`s that point at nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from jctl.checks import SpecFile, check
from jctl.diagnostics import DocPath, Finding, path_text

# RFC 6838 type/subtype (restricted-name) with optional `; parameter=value` pairs
_MEDIA_TYPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}"
                         r"(\s*;\s*[A-Za-z0-9!#$&^_.+-]+=(\"[^\"]*\"|[A-Za-z0-9!#$&^_.+-]+))*\s*$")
# The Arazzo 1.0 specification: workflowId and stepId SHOULD match this, so `$steps.<id>` can name them
_IDENTIFIER = re.compile(r"^[A-Za-z0-9_\-]+$")
_SCRIPT = re.compile(r"<\s*script\b|javascript:", re.IGNORECASE)
_ACTION_LISTS = (("onSuccess", "onFailure"), ("successActions", "failureActions"))
_COMPONENT = re.compile(r"^\$components\.([A-Za-z]+)\.([A-Za-z0-9_.\-]+)$")


def _items(node: Any) -> list[tuple[int, dict[str, Any]]]:
    return [(i, item) for i, item in enumerate(node) if isinstance(item, dict)] if isinstance(node, list) else []


def _workflows(data: Any) -> list[tuple[int, dict[str, Any]]]:
    return _items(data.get("workflows")) if isinstance(data, dict) else []


def _steps(workflow: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    return _items(workflow.get("steps"))


def _repeated(items: list[tuple[int, dict[str, Any]]], field: str) -> Iterator[tuple[int, int, str]]:
    """(position, first position, value) for each item whose string `field` an earlier item already has."""
    first: dict[str, int] = {}
    for position, item in items:
        value = item.get(field)
        if isinstance(value, str):
            if value in first:
                yield position, first[value], value
            first.setdefault(value, position)


@check("arazzo-duplicate-entry", "error",
       "Two actions of one onSuccess/onFailure (or successActions/failureActions) list share a name, or two "
       "requestBody replacements the same target.", kinds=("arazzo",))
def check_duplicate_entries(spec: SpecFile) -> Iterator[Finding]:
    for w, workflow in _workflows(spec.data):
        at: DocPath = ("workflows", w)
        for key in _ACTION_LISTS[1]:
            yield from _duplicate_actions(workflow.get(key), at + (key,))
        for s, step in _steps(workflow):
            for key in _ACTION_LISTS[0]:
                yield from _duplicate_actions(step.get(key), at + ("steps", s, key))
            body = step.get("requestBody")
            if isinstance(body, dict):
                where = at + ("steps", s, "requestBody", "replacements")
                for position, first, target in _repeated(_items(body.get("replacements")), "target"):
                    yield Finding(where + (position, "target"),
                                  f"replacement target `{target}` is given twice (first at "
                                  f"{path_text(where + (first,))}); only one of them can apply",
                                  "merge the two replacements into one")


def _duplicate_actions(actions: Any, at: DocPath) -> Iterator[Finding]:
    for position, first, name in _repeated(_items(actions), "name"):
        yield Finding(at + (position, "name"),
                      f"action name `{name}` is used twice in `{at[-1]}` (first at {path_text(at + (first,))})",
                      "give each action of the list its own name")


@check("arazzo-content-type", "error", "A requestBody `contentType` is not a media type (`type/subtype`).",
       kinds=("arazzo",))
def check_content_types(spec: SpecFile) -> Iterator[Finding]:
    for w, workflow in _workflows(spec.data):
        for s, step in _steps(workflow):
            body = step.get("requestBody")
            content_type = body.get("contentType") if isinstance(body, dict) else None
            if isinstance(content_type, str) and not _MEDIA_TYPE.match(content_type):
                yield Finding(("workflows", w, "steps", s, "requestBody", "contentType"),
                              f"contentType `{content_type}` is not a media type",
                              "write `type/subtype`, e.g. `application/json`")


@check("arazzo-id-pattern", "warning",
       "A workflowId or stepId has characters outside [A-Za-z0-9_-], so runtime expressions cannot name it.",
       kinds=("arazzo",))
def check_identifier_pattern(spec: SpecFile) -> Iterator[Finding]:
    for w, workflow in _workflows(spec.data):
        yield from _identifier(workflow, ("workflows", w), "workflowId", "$workflows")
        for s, step in _steps(workflow):
            yield from _identifier(step, ("workflows", w, "steps", s), "stepId", "$steps")


def _identifier(item: dict[str, Any], at: DocPath, field: str, prefix: str) -> Iterator[Finding]:
    value = item.get(field)
    if isinstance(value, str) and value and not _IDENTIFIER.match(value):
        yield Finding(at + (field,), f"{field} `{value}` has characters outside A-Z a-z 0-9 _ -, so "
                                     f"`{prefix}.{value}...` cannot refer to it",
                      f"rename it, e.g. `{re.sub(r'[^A-Za-z0-9_-]+', '-', value).strip('-') or 'id'}`")


@check("arazzo-unsafe-markdown", "warning",
       "A description holds a <script> tag or a javascript: link (descriptions are rendered as Markdown).",
       kinds=("arazzo",))
def check_unsafe_markdown(spec: SpecFile) -> Iterator[Finding]:
    for node, at in _mappings_within(spec.data):
        description = node.get("description")
        if isinstance(description, str) and _SCRIPT.search(description):
            yield Finding(at + ("description",), "description holds script (`<script>` or `javascript:`), "
                                                 "which documentation renderers would run",
                          "remove it; describe the behaviour in prose")


def _mappings_within(data: Any) -> Iterator[tuple[dict[str, Any], DocPath]]:
    """Every mapping in `data` with its path, depth first, last child first; scalars, most of a document's nodes,
    are never given a path."""
    pending: list[tuple[Any, DocPath]] = [(data, ())]
    while pending:
        node, at = pending.pop()
        if isinstance(node, dict):
            yield node, at
            pending.extend((value, at + (key,)) for key, value in node.items() if isinstance(value, (dict, list)))
        elif isinstance(node, list):
            pending.extend((value, at + (index,)) for index, value in enumerate(node)
                           if isinstance(value, (dict, list)))


@check("arazzo-unresolved-component", "error",
       "A `reference: $components.<kind>.<name>` or a local `$ref: '#/...'` points at nothing in this file.",
       kinds=("arazzo",))
def check_component_references(spec: SpecFile) -> Iterator[Finding]:
    from jctl.checks.openapi_index import MISSING, json_pointer

    components = spec.data.get("components") if isinstance(spec.data, dict) else None
    for node, at in _mappings_within(spec.data):
        reference, ref = node.get("reference"), node.get("$ref")
        if isinstance(reference, str) and (named := _COMPONENT.match(reference)):
            kind, name = named.groups()
            section = components.get(kind) if isinstance(components, dict) else None
            if not isinstance(section, dict) or name not in section:
                known = ", ".join(map(str, section)) if isinstance(section, dict) else ""
                yield Finding(at + ("reference",), f"`{reference}` names nothing: components.{kind} has no `{name}`",
                              f"declare it under components.{kind}" + (f", or use one of: {known}" if known else ""))
        if isinstance(ref, str) and ref.startswith("#") and json_pointer(spec.data, ref[1:]) is MISSING:
            yield Finding(at + ("$ref",), f"`$ref: {ref}` points at nothing in this file",
                          "fix the JSON pointer, or declare what it names")
