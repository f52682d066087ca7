"""Shape rules the JSON Schema cannot express: what `kind: Api` forbids, per-state-type constraints, and fields
that exclude each other."""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import Any

from jctl.checks import SpecFile, check
from jctl.checks.traverse import iter_blocks, iter_http_tasks, iter_tasks, spec_body, spec_kind, walk
from jctl.diagnostics import DocPath, Finding
from jctl.spec.model import EXTERNAL_INPUT_TYPES, iter_states

TASK_KINDS = (
    "httpCall:v1",
    "kafkaPublish:v1",
    "schedule:v1",
    "jwtValidate:v1",
    "mtlsValidate:v1",
    "apiKeyValidate:v1",
    "cache:v1",
    "xmlDecode:v1",
)
STATUS_RESERVED = ("journeyId", "journeyName", "phase", "currentState", "updatedAt", "tags", "attributes", "_links")
# The reference's own spec.output.response example projects `status` (it mirrors output.status), so it is allowed.
OUTCOME_RESERVED = ("journeyId", "journeyName", "phase", "output", "error", "tags", "attributes", "_links")


@check("forbidden-in-api", "error", "A construct kind: Api does not allow (wait, webhook, timer, schedule, ...).")
def forbidden_in_api(spec: SpecFile) -> Iterator[Finding]:
    if spec_kind(spec) != "Api":
        return
    hint = "kind: Api runs one request to completion; use kind: Journey for long-lived flows"
    for ref in iter_states(spec.data):
        if ref.type in ("wait", "webhook", "timer"):
            message = f"`{ref.type}` state `{ref.state_id}` is not allowed in kind: Api"
            yield Finding(ref.path + ("type",), message, hint)
        task = ref.state.get("task")
        if ref.type == "task" and isinstance(task, dict) and task.get("kind") == "schedule:v1":
            yield Finding(ref.path + ("task", "kind"), "schedule:v1 tasks are not allowed in kind: Api", hint)
        transform = ref.state.get("transform")
        target = transform.get("target") if isinstance(transform, dict) else None
        if ref.type == "transform" and isinstance(target, dict) and target.get("kind") == "attributes":
            yield Finding(
                ref.path + ("transform", "target", "kind"),
                "`target.kind: attributes` is not allowed in kind: Api (there is no journey instance to attach "
                "attributes to)",
                "write to `context` or a `var` instead",
            )
    lifecycle = spec_body(spec).get("lifecycle")
    if isinstance(lifecycle, dict) and "startMode" in lifecycle:
        yield Finding(
            ("spec", "lifecycle", "startMode"),
            "`spec.lifecycle.startMode` is not allowed in kind: Api (an API call is always synchronous)",
            "remove `startMode`",
            at="key",
        )


@check("missing-on-timeout", "error", "A wait/webhook sets timeoutSec without onTimeout.")
def missing_on_timeout(spec: SpecFile) -> Iterator[Finding]:
    for ref, block in iter_blocks(spec, ("wait", "webhook")):
        if "timeoutSec" in block and "onTimeout" not in block and "onTimeout" not in ref.state:
            yield Finding(
                ref.path + (ref.type, "timeoutSec"),
                f"`{ref.type}.timeoutSec` is set but there is no `onTimeout` state to go to when it elapses",
                f"add `onTimeout: <stateId>` next to `timeoutSec` in `{ref.state_id}`",
                at="key",
            )


@check("legacy-next", "warning", "A wait/webhook block writes `default: <stateId>` instead of the state-level `next`.")
def legacy_next(spec: SpecFile) -> Iterator[Finding]:
    for ref, block in iter_blocks(spec, ("wait", "webhook")):
        if "default" not in block:
            continue
        if "next" in ref.state and ref.state["next"] != block["default"]:
            message = (f"`{ref.type}.default` ({block['default']}) conflicts with the state-level `next` "
                       f"({ref.state['next']}) of `{ref.state_id}`; the runner follows `next`")
            hint = "remove `default` from the block, and make `next` the state the journey should go to"
        elif "next" in ref.state:
            message = f"`{ref.type}.default` duplicates the state-level `next` of `{ref.state_id}`"
            hint = "remove `default` from the block; `next` already says where to go"
        else:
            message = f"`{ref.type}.default` is a legacy spelling of the state-level `next:`"
            hint = (
                f"write `next: {block['default']}` at the state level instead of `default` in the `{ref.type}` block; "
                "`jctl validate --fix` rewrites it"
            )
        yield Finding(ref.path + (ref.type, "default"), message, hint, at="key")


@check("get-with-body", "error", "An httpCall with method GET has a body.")
def get_with_body(spec: SpecFile) -> Iterator[Finding]:
    for ref, task in iter_http_tasks(spec):
        method = task.get("method")
        if isinstance(method, str) and method.upper() == "GET" and "body" in task:
            yield Finding(
                ref.path + ("task", "body"),
                f"`{ref.state_id}` sends a body with a GET request",
                "remove `body`, or use POST/PUT for requests that carry a payload",
                at="key",
            )


@check("notify-with-result", "error", "An httpCall in `mode: notify` declares resultVar or errorMapping.")
def notify_with_result(spec: SpecFile) -> Iterator[Finding]:
    for ref, task in iter_http_tasks(spec):
        if task.get("mode") != "notify":
            continue
        for field in ("resultVar", "errorMapping"):
            if field in task:
                yield Finding(
                    ref.path + ("task", field),
                    f"`{field}` has no effect in `mode: notify`: the call is fire-and-forget and produces no result",
                    f"remove `{field}`, or use `mode: requestResponse` to observe the response",
                    at="key",
                )


@check("http-binding-conflict", "error", "An httpCall mixes operationRef with raw method/url.")
def http_binding_conflict(spec: SpecFile) -> Iterator[Finding]:
    for ref, task in iter_http_tasks(spec):
        if "operationRef" not in task:
            continue
        for field in ("method", "url"):
            if field in task:
                yield Finding(
                    ref.path + ("task", field),
                    f"`{ref.state_id}` has both `operationRef` and `{field}`; a task binds to one or the other",
                    "keep `operationRef` (method and URL come from the OpenAPI operation) or drop it for a raw call",
                    at="key",
                )


def _reserved_properties(schema: Any, path: DocPath, reserved: tuple[str, ...], where: str) -> Iterator[Finding]:
    properties = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(properties, dict):
        return
    for name in properties:
        if name in reserved:
            yield Finding(
                path + ("properties", name),
                f"`{name}` is a reserved {where} field; projected fields must not override it",
                "rename the property (and the field of the projected context object)",
                at="key",
            )


@check("reserved-field", "error", "A response schema projects a property that collides with a reserved field.")
def reserved_field(spec: SpecFile) -> Iterator[Finding]:
    for ref, block in iter_blocks(spec, EXTERNAL_INPUT_TYPES):
        response = block.get("response")
        if isinstance(response, dict):
            path = ref.path + (ref.type, "response", "schema")
            yield from _reserved_properties(response.get("schema"), path, STATUS_RESERVED, "JourneyStatus")
    output = spec_body(spec).get("output")
    response = output.get("response") if isinstance(output, dict) else None
    if isinstance(response, dict):
        path = ("spec", "output", "response", "schema")
        yield from _reserved_properties(response.get("schema"), path, OUTCOME_RESERVED, "JourneyOutcome")


@check("unknown-task-kind", "error", "task.kind names no known task plugin.")
def unknown_task_kind(spec: SpecFile) -> Iterator[Finding]:
    for ref, task in iter_tasks(spec):
        kind = task.get("kind")
        if not isinstance(kind, str) or kind in TASK_KINDS:
            continue
        close = difflib.get_close_matches(kind, TASK_KINDS, n=1, cutoff=0.6)
        hint = f"did you mean `{close[0]}`?" if close else "use one of " + ", ".join(TASK_KINDS)
        yield Finding(ref.path + ("task", "kind"), f"unknown task kind `{kind}`", hint)


@check("wait-channel", "error", "wait.channel is not `manual` (callbacks use a webhook state).")
def wait_channel(spec: SpecFile) -> Iterator[Finding]:
    for ref, block in iter_blocks(spec, ("wait",)):
        channel = block.get("channel")
        if isinstance(channel, str) and channel != "manual":
            yield Finding(
                ref.path + ("wait", "channel"),
                f"`wait.channel` is `{channel}`; the only wait channel is `manual`",
                "use `channel: manual`, or a `type: webhook` state for third-party callbacks",
            )


@check("timer-duration-xor", "error", "A timer declares both or neither of `duration` and `until`.")
def timer_duration_xor(spec: SpecFile) -> Iterator[Finding]:
    for ref, block in iter_blocks(spec, ("timer",)):
        if "duration" in block and "until" in block:
            yield Finding(
                ref.path + ("timer", "until"),
                f"timer `{ref.state_id}` sets both `duration` and `until`",
                "keep exactly one: `duration` (ISO-8601, e.g. PT5M) or `until` (RFC 3339 timestamp)",
                at="key",
            )
        elif "duration" not in block and "until" not in block:
            yield Finding(
                ref.path + ("timer",),
                f"timer `{ref.state_id}` sets neither `duration` nor `until`",
                "add `duration: PT5M` (ISO-8601) or `until: 2030-01-01T00:00:00Z` (RFC 3339)",
                at="key",
            )


@check("duplicate-branch-name", "error", "Two branches of a parallel state share a name.")
def duplicate_branch_name(spec: SpecFile) -> Iterator[Finding]:
    for ref, block in iter_blocks(spec, ("parallel",)):
        branches = block.get("branches")
        if not isinstance(branches, list):
            continue
        seen: set[str] = set()
        for index, branch in enumerate(branches):
            name = branch.get("name") if isinstance(branch, dict) else None
            if isinstance(name, str) and name in seen:
                yield Finding(
                    ref.path + ("parallel", "branches", index, "name"),
                    f"branch name `{name}` is used twice in `{ref.state_id}`; the join reads branches by name",
                    "give each branch a unique name",
                )
            if isinstance(name, str):
                seen.add(name)


@check("empty-choice", "error", "A choice state has an empty `choices` list.")
def empty_choice(spec: SpecFile) -> Iterator[Finding]:
    for ref in iter_states(spec.data):
        if ref.type == "choice" and ref.state.get("choices") == []:
            yield Finding(
                ref.path + ("choices",),
                f"choice `{ref.state_id}` has no branches",
                "add `when`/`next` entries under `choices`, or replace the choice with a plain `next`",
            )


@check("mapper-conflict", "error", "A location has both `mapper` and `mapperRef`.")
def mapper_conflict(spec: SpecFile) -> Iterator[Finding]:
    for path, node in walk(spec_body(spec), ("spec",)):
        if isinstance(node, dict) and "mapper" in node and "mapperRef" in node:
            yield Finding(
                path + ("mapperRef",),
                "`mapper` and `mapperRef` are both set here; only one may be used",
                "keep the inline `mapper` or the reference to spec.mappers, not both",
                at="key",
            )


@check("cookies-without-jar", "error", "spec.cookies.returnToClient is set but there is no spec.cookies.jar.")
def cookies_without_jar(spec: SpecFile) -> Iterator[Finding]:
    cookies = spec_body(spec).get("cookies")
    if isinstance(cookies, dict) and "returnToClient" in cookies and "jar" not in cookies:
        yield Finding(
            ("spec", "cookies", "returnToClient"),
            "`returnToClient` has no cookie jar to take cookies from",
            "add `spec.cookies.jar` (with its allowed `domains`), or remove `returnToClient`",
            at="key",
        )
