"""Literal values with a grammar of their own: ISO-8601 durations, RFC 3339 timestamps, variable identifiers,
`${context.<dotPath>}` interpolation, expression engine ids and absolute URLs."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from jctl.checks import SpecFile, check
from jctl.checks.traverse import iter_blocks, iter_http_tasks, iter_tasks, spec_body, walk
from jctl.diagnostics import DocPath, Finding
from jctl.spec.model import iter_states
from jctl.spec.scalars import inline_offset

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
PLACEHOLDER_BODY = re.compile(r"context(\.[A-Za-z0-9_-]+)+")
RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")
EXPRESSION_LANGS = ("dataweave", "jsonata", "jq", "jolt")


def _duration_problem(text: str, positive: bool) -> str | None:
    """Why `text` is not a usable ISO-8601 duration, or None when it is one."""
    import isodate

    if "${" in text:
        return "`${...}` interpolation is not supported here; compute the value with a `mapper` instead"
    try:
        isodate.parse_duration(text)
    except (isodate.ISO8601Error, ValueError):
        return f"`{text}` is not an ISO-8601 duration (for example PT30S, PT5M, PT1H, P1D)"
    if text.endswith("T") or not re.search(r"\d", text):  # isodate accepts a bare `PT`
        return f"`{text}` is not an ISO-8601 duration: it has no amount after the designator"
    if text.startswith("-"):
        return f"`{text}` is negative; a delay or interval must be positive"
    if positive and not any(ch.isdigit() and ch != "0" for ch in text):
        return f"`{text}` is zero; an interval must be positive"
    return None


def _timestamp_problem(text: str) -> str | None:
    if "${" in text:
        return "`${...}` interpolation is not supported here; compute the value with a `mapper` instead"
    if not RFC3339.fullmatch(text):
        return f"`{text}` is not an RFC 3339 timestamp (for example 2030-01-31T09:00:00Z)"
    try:
        datetime.fromisoformat(text.replace("z", "Z").replace("t", "T").replace("Z", "+00:00"))
    except ValueError:
        return f"`{text}` is not a real date and time"
    return None


def _time_literals(spec: SpecFile) -> Iterator[tuple[DocPath, Any, str]]:
    """(path, value, "duration" | "interval" | "timestamp") for each literal time field."""
    for ref, block in iter_blocks(spec, ("timer",)):
        if "duration" in block:
            yield ref.path + ("timer", "duration"), block["duration"], "duration"
        if "until" in block:
            yield ref.path + ("timer", "until"), block["until"], "timestamp"
    for ref, task in iter_tasks(spec, "schedule:v1"):
        if "interval" in task:
            yield ref.path + ("task", "interval"), task["interval"], "interval"
        if "startAt" in task:
            yield ref.path + ("task", "startAt"), task["startAt"], "timestamp"


@check("invalid-duration", "error", "A literal duration is not a valid ISO-8601 duration.")
def invalid_duration(spec: SpecFile) -> Iterator[Finding]:
    for path, value, what in _time_literals(spec):
        if what != "timestamp" and isinstance(value, str):
            problem = _duration_problem(value, positive=what == "interval")
            if problem:
                yield Finding(path, problem, "write an ISO-8601 duration such as PT5M, or use a `mapper`")


@check("invalid-timestamp", "error", "A literal timestamp is not a valid RFC 3339 date-time.")
def invalid_timestamp(spec: SpecFile) -> Iterator[Finding]:
    for path, value, what in _time_literals(spec):
        if what == "timestamp" and isinstance(value, str):
            problem = _timestamp_problem(value)
            if problem:
                yield Finding(path, problem, "write a full date-time with offset, e.g. 2030-01-31T09:00:00Z")


def _string_map(holder: Any, path: DocPath) -> Iterator[tuple[DocPath, Any]]:
    if isinstance(holder, dict):
        for key, value in holder.items():
            yield path + (key,), value


def _interpolated_fields(spec: SpecFile) -> Iterator[tuple[DocPath, Any]]:
    for ref, task in iter_tasks(spec):
        base = ref.path + ("task",)
        yield from _string_map(task.get("headers"), base + ("headers",))
        if task.get("kind") == "httpCall:v1":
            yield base + ("url",), task.get("url")
            yield base + ("body",), task.get("body")
            params = task.get("params")
            if isinstance(params, dict):
                for group in ("path", "query", "headers"):
                    yield from _string_map(params.get(group), base + ("params", group))
        elif task.get("kind") == "kafkaPublish:v1":
            yield base + ("key",), task.get("key")
    defaults = spec_body(spec).get("defaults")
    http = defaults.get("http") if isinstance(defaults, dict) else None
    if isinstance(http, dict):
        yield from _string_map(http.get("headers"), ("spec", "defaults", "http", "headers"))


def placeholder_problems(text: str) -> Iterator[tuple[int, str]]:
    """(index into text, problem) for each malformed `${...}` placeholder."""
    start = text.find("${")
    while start != -1:
        end = text.find("}", start + 2)
        if end == -1:
            yield start, "`${` is never closed with `}`"
            return
        inner = text[start + 2 : end]
        if "${" in inner:
            yield start, "placeholders cannot be nested"
        elif not inner.strip():
            yield start, "`${}` is empty"
        elif not PLACEHOLDER_BODY.fullmatch(inner):
            yield start, f"`${{{inner}}}` is not of the form `${{context.<dotPath>}}`"
        start = text.find("${", end + 1)


@check("interpolation-syntax", "error", "A malformed `${...}` placeholder in an interpolated string.")
def interpolation_syntax(spec: SpecFile) -> Iterator[Finding]:
    for path, value in _interpolated_fields(spec):
        if not isinstance(value, str):
            continue
        for index, problem in placeholder_problems(value):
            yield Finding(
                path,
                problem,
                "write placeholders as `${context.some.field}` (context fields only, no array indexes)",
                offset=inline_offset(spec.document, path, index),
            )


def _identifier_fields(spec: SpecFile) -> Iterator[tuple[DocPath, Any]]:
    for ref in iter_states(spec.data):
        body = ref.state.get(ref.type) if isinstance(ref.type, str) else None
        if ref.type == "succeed" and "outputVar" in ref.state:
            yield ref.path + ("outputVar",), ref.state["outputVar"]
        if not isinstance(body, dict):
            continue
        base = ref.path + (ref.type,)
        for field in ("resultVar", "sourceVar", "authVar"):
            if field in body and ref.type in ("task", "transform", "subjourney"):
                yield base + (field,), body[field]
        mapping = body.get("errorMapping")
        if ref.type == "task" and isinstance(mapping, dict) and "resultVar" in mapping:
            yield base + ("errorMapping", "resultVar"), mapping["resultVar"]
        response = body.get("response")
        if ref.type in ("wait", "webhook") and isinstance(response, dict) and "outputVar" in response:
            yield base + ("response", "outputVar"), response["outputVar"]
        join = body.get("join")
        if ref.type == "parallel" and isinstance(join, dict) and "resultVar" in join:
            yield base + ("join", "resultVar"), join["resultVar"]
    output = spec_body(spec).get("output")
    response = output.get("response") if isinstance(output, dict) else None
    if isinstance(response, dict) and "outputVar" in response:
        yield ("spec", "output", "response", "outputVar"), response["outputVar"]


@check("invalid-identifier", "error", "A variable name (resultVar, outputVar, ...) is not an identifier.")
def invalid_identifier(spec: SpecFile) -> Iterator[Finding]:
    for path, value in _identifier_fields(spec):
        if isinstance(value, str) and not IDENTIFIER.fullmatch(value):
            field = str(path[-1])
            suggestion = re.sub(r"[^A-Za-z0-9_]", "_", value) or "result"
            if suggestion[0].isdigit():
                suggestion = "_" + suggestion
            yield Finding(
                path,
                f"`{field}` value `{value}` is not a valid variable name ([A-Za-z_][A-Za-z0-9_]*)",
                f"use a plain name such as `{suggestion}`; it becomes a top-level field of context",
            )


@check("unknown-lang", "error", "An expression `lang` names no supported engine (dataweave, jsonata, jq, jolt).")
def unknown_lang(spec: SpecFile) -> Iterator[Finding]:
    for path, node in walk(spec_body(spec), ("spec",)):
        if not isinstance(node, dict) or "expr" not in node:
            continue
        lang = node.get("lang")
        if isinstance(lang, str) and lang not in EXPRESSION_LANGS:
            lowered = lang.strip().lower()
            hint = f"did you mean `{lowered}`?" if lowered in EXPRESSION_LANGS else "use one of " + ", ".join(
                EXPRESSION_LANGS
            )
            yield Finding(path + ("lang",), f"unknown expression language `{lang}`", hint)


MAX_TIMEOUT_MS = 2**31 - 1  # about 24.8 days: what HTTP clients and sockets accept as one timeout
NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def _number(value: Any) -> float | None:
    """A YAML number, or a string YAML 1.1 left unparsed although it reads as one (`1e300`)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and NUMBER.fullmatch(value.strip()):
        return float(value)
    return None


def _max_schedulable_s() -> float:
    from datetime import timezone

    from jctl.clock import wall_now

    return (datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone.utc) - wall_now()).total_seconds()


@check("timeout-out-of-range", "error", "A timeoutSec or timeoutMs is larger than the runner can schedule.")
def timeout_out_of_range(spec: SpecFile) -> Iterator[Finding]:
    for ref, block in iter_blocks(spec, ("wait", "webhook")):
        for path, value in ((ref.path + (ref.type, "timeoutSec"), block.get("timeoutSec")),
                            (ref.path + ("timeoutSec",), ref.state.get("timeoutSec"))):
            amount = _number(value)
            if amount is not None and amount > _max_schedulable_s():
                yield Finding(path, f"timeoutSec `{value}` is out of range: a step timeout must fall before "
                              "9999-12-31, the latest time the runner can schedule",
                              "give a timeout in seconds that a person could answer in (for example 604800)")
    for ref, task in iter_http_tasks(spec):
        amount = _number(task.get("timeoutMs"))
        if amount is not None and amount > MAX_TIMEOUT_MS:
            yield Finding(ref.path + ("task", "timeoutMs"),
                          f"timeoutMs `{task['timeoutMs']}` is out of range: at most {MAX_TIMEOUT_MS} (about 24.8 "
                          "days)", "give the HTTP timeout in milliseconds, for example 10000")


@check("relative-url", "error", "An httpCall url is not absolute (http:// or https://).")
def relative_url(spec: SpecFile) -> Iterator[Finding]:
    for ref, task in iter_http_tasks(spec):
        url = task.get("url")
        if not isinstance(url, str) or url.startswith("${"):
            continue  # a placeholder may supply the scheme and host
        if not re.match(r"https?://[^/\s]", url):
            yield Finding(
                ref.path + ("task", "url"),
                f"url `{url}` is not absolute",
                "write the full URL with scheme and host (https://host/path), or bind with `operationRef`",
            )


@check("invalid-regex", "error", "A cookie `namePatterns` entry is not a valid regular expression.")
def invalid_regex(spec: SpecFile) -> Iterator[Finding]:
    cookies = spec_body(spec).get("cookies")
    returned = cookies.get("returnToClient") if isinstance(cookies, dict) else None
    include = returned.get("include") if isinstance(returned, dict) else None
    patterns = include.get("namePatterns") if isinstance(include, dict) else None
    if not isinstance(patterns, list):
        return
    for index, pattern in enumerate(patterns):
        if not isinstance(pattern, str):
            continue
        path = ("spec", "cookies", "returnToClient", "include", "namePatterns", index)
        try:
            re.compile(pattern)
        except re.error as exc:
            yield Finding(
                path,
                f"`{pattern}` is not a valid regular expression: {exc.msg}",
                "fix the pattern (quote it in YAML if it contains `:` or `#`)",
                offset=inline_offset(spec.document, path, exc.pos) if exc.pos is not None else None,
            )


_DOT_PATH = re.compile(r"[^.\s\[\]]+(?:\.[^.\s\[\]]+)*")


def _dot_path_fields(spec: SpecFile) -> Iterator[tuple[DocPath, Any]]:
    """Dot-paths the engine writes to or reads from: transform/errorMapping targets and metadata bindings."""
    for ref in iter_states(spec.data):
        blocks = [("transform",), ("task", "errorMapping")]
        for block_path in blocks:
            node: Any = ref.state
            for key in block_path:
                node = node.get(key) if isinstance(node, dict) else None
            target = node.get("target") if isinstance(node, dict) else None
            if isinstance(target, dict) and "path" in target:
                yield ref.path + block_path + ("target", "path"), target["path"]
    metadata = spec_body(spec).get("metadata")
    bindings = metadata.get("bindings") if isinstance(metadata, dict) else None
    for path, node in walk(bindings, ("spec", "metadata", "bindings")):
        if "fromPayload" in path and isinstance(node, dict) and "path" in node:
            yield path + ("path",), node["path"]


@check("invalid-path", "error", "A dot-path (target.path, binding path) is malformed: empty segments, spaces or [index].")
def invalid_path(spec: SpecFile) -> Iterator[Finding]:
    for path, value in _dot_path_fields(spec):
        if not isinstance(value, str) or (value == "" and path[-2] == "target"):
            continue  # "" targets the whole context; other types are the schema's to report
        if _DOT_PATH.fullmatch(value):
            continue
        if "[" in value:
            problem, hint = "array indexing is not supported in dot-paths (§3)", "write to a field, not an index"
        else:
            problem, hint = "it has an empty segment or white space", "write segments separated by single dots, like `order.id`"
        yield Finding(path, f"`{value}` is not a dot-path: {problem}", hint)
