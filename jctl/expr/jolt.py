"""JOLT transforms, implemented natively: `shift`, `default` and `remove` over the bindings document.

Shift supports literal keys, `*` and `a|b` matching, `&`/`&N` key references, `$` (the matched key), `@` (the
current value) and output paths with `[]` (append) — the subset specs use; other operations are refused clearly.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from jctl.expr import ExpressionError
from jctl.gc_pause import collector_paused

SUPPORTED = ("shift", "default", "remove")
_REFERENCE = re.compile(r"&(\d+)|&\((\d+),(\d+)\)|&")


def parse_spec(expr: str) -> list[dict[str, Any]]:
    """The chain of operations in `expr` (JSON or YAML); raises ValueError with a readable message."""
    from jctl.spec.loader import LoadError, parse_document  # bounded: aliases, depth and size, as for specs

    try:
        spec = parse_document(expr, Path("<jolt spec>")).data
    except LoadError as error:
        raise ValueError(f"the JOLT spec is not valid JSON or YAML: {error.message} "
                         f"(line {error.line}, column {error.column})") from None
    if isinstance(spec, dict):
        spec = [spec]
    if not isinstance(spec, list) or not spec:
        raise ValueError("a JOLT spec is a list of {operation, spec} objects")
    for index, step in enumerate(spec):
        if not isinstance(step, dict) or "operation" not in step:
            raise ValueError(f"JOLT step {index + 1} has no `operation`")
        operation = step["operation"]
        if operation not in SUPPORTED:
            raise ValueError(f"JOLT operation {operation!r} (step {index + 1}) is not supported; "
                             f"jctl implements {', '.join(SUPPORTED)}")
        if not isinstance(step.get("spec"), dict):
            raise ValueError(f"JOLT step {index + 1} ({operation}) needs a `spec` object")
    return spec


def compile_check(expr: str) -> list[ExpressionError]:
    try:
        parse_spec(expr)
    except ValueError as error:
        return [ExpressionError(str(error), kind="syntax")]
    return []


def evaluate_request(request: dict[str, Any]) -> Any:
    """Evaluate a worker request (the worker holds the deadline and the memory cap)."""
    return evaluate(request["expr"], request["document"])


def evaluate(expr: str, document: Any) -> Any:
    try:
        steps = parse_spec(expr)
    except ValueError as error:
        raise ExpressionError(str(error), kind="syntax") from None
    with collector_paused():  # the values are trees: passes over a growing document cost more than copying it
        value = _copy(document)
        for step in steps:
            if step["operation"] == "shift":
                output: dict[str, Any] = {}
                _shift(step["spec"], value, [], output)
                value = output.get("root")
            elif step["operation"] == "default":
                value = _default(step["spec"], value)
            else:
                value = _remove(step["spec"], value)
        return value


def _copy(value: Any) -> Any:
    """A copy of a JSON value (objects and arrays new, the immutable scalars shared): copy.deepcopy's result for
    JSON, without the memo it keeps of every object it copied."""
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


def _matches(pattern: str, key: str) -> bool:
    return any(re.fullmatch(re.escape(alt).replace(r"\*", ".*"), key) for alt in pattern.split("|"))


def _shift(spec: dict[str, Any], value: Any, keys: list[str], output: dict[str, Any]) -> None:
    if not isinstance(value, dict):
        if isinstance(value, list):
            value = {str(index): item for index, item in enumerate(value)}
        else:
            return
    for pattern, target in spec.items():
        if pattern == "@":
            _emit(target, value, keys, output)
            continue
        if pattern == "$":
            _emit(target, keys[-1] if keys else None, keys, output)
            continue
        for key, child in value.items():
            if _matches(pattern, key):
                path = keys + [key]
                if isinstance(target, dict):
                    _shift(target, child, path, output)
                else:
                    _emit(target, child, path, output)
                if "*" not in pattern and "|" not in pattern:
                    break


def _emit(target: Any, value: Any, keys: list[str], output: dict[str, Any]) -> None:
    for path in target if isinstance(target, list) else [target]:
        if isinstance(path, str):
            _put(output, ["root", *_resolve(path, keys)], _copy(value))


def _resolve(path: str, keys: list[str]) -> list[str]:
    def reference(match: re.Match[str]) -> str:
        up = int(match.group(1) or match.group(2) or 0)
        return keys[-1 - up] if up < len(keys) else ""

    return [_REFERENCE.sub(reference, part) for part in path.split(".") if part]


def _put(output: dict[str, Any], path: list[str], value: Any) -> None:
    node: Any = output
    for position, part in enumerate(path):
        last = position == len(path) - 1
        append = part.endswith("[]")
        name = part[:-2] if append else part
        if last:
            if append:
                node.setdefault(name, []).append(value)
            elif name in node:
                existing = node[name]
                node[name] = (existing if isinstance(existing, list) else [existing]) + [value]
            else:
                node[name] = value
            return
        child = node.get(name)
        if not isinstance(child, dict):
            child = {}
            node[name] = child
        node = child


def _default(spec: dict[str, Any], value: Any) -> Any:
    if value is None:
        value = {}
    if not isinstance(value, dict):
        return value
    for key, default in spec.items():
        targets = [name for name in value if _matches(key, name)] if "*" in key or "|" in key else [key]
        for name in targets:
            if isinstance(default, dict):
                value[name] = _default(default, value.get(name))
            elif name not in value or value[name] is None:
                value[name] = _copy(default)
    return value


def _remove(spec: dict[str, Any], value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    for key, rule in spec.items():
        for name in [name for name in value if _matches(key, name)]:
            if isinstance(rule, dict):
                value[name] = _remove(rule, value[name])
            else:
                del value[name]
    return value
