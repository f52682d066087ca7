"""Declarative HTTP mocks (`mocks: [{match, respond}]`) served as an httpx transport, so mocked and real
calls share one code path. Per-rule response counters live in a dict the caller persists."""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jctl.errors import UsageError
from jctl.tasks.http import OPERATION_REF_EXTENSION, has_header

if TYPE_CHECKING:
    import httpx


class MockError(UsageError):
    """The mocks file is unreadable or malformed (a usage error: exit 2)."""


def load_mocks(path: Path) -> dict[str, Any]:
    """Read and check a YAML or JSON mocks file with the spec loader (positions, bounds, duplicate-free)."""
    from jctl.spec.loader import LoadError, load_document

    try:
        data = load_document(path).data
    except LoadError as exc:
        raise MockError(f"cannot read mocks file {path}:{exc.line}:{exc.column}: {exc.message}") from None
    return validate_mocks(data, str(path))


def validate_mocks(data: Any, where: str = "mocks") -> dict[str, Any]:
    """`{mocks: [...]}` (or a bare list of rules) checked rule by rule; MockError says what is wrong where."""
    if isinstance(data, list):
        data = {"mocks": data}
    if not isinstance(data, dict) or not isinstance(data.get("mocks", []), list):
        raise MockError(f"{where}: expected a mapping with a `mocks:` list of {{match, respond}} rules")
    for index, rule in enumerate(data.get("mocks", [])):
        _check_rule(rule, f"{where}: mocks[{index}]")
    return {"mocks": list(data.get("mocks", []))}


_MATCH_KEYS = {"method", "url", "operationRef"}
_RESPONSE_KEYS = {"status", "headers", "body", "error"}


def _check_rule(rule: Any, where: str) -> None:
    if not isinstance(rule, dict) or not isinstance(rule.get("match"), dict) or "respond" not in rule:
        raise MockError(f"{where} needs `match:` (method/url or operationRef) and `respond:`")
    unknown = set(rule["match"]) - _MATCH_KEYS
    if unknown:
        raise MockError(f"{where}.match: unknown key(s) {', '.join(sorted(unknown))}; use method, url, operationRef")
    responses = rule["respond"] if isinstance(rule["respond"], list) else [rule["respond"]]
    if not responses or not all(isinstance(r, dict) for r in responses):
        raise MockError(f"{where}.respond must be a response object or a non-empty list of them")
    for response in responses:
        _check_response(response, f"{where}.respond")


def _check_response(response: dict[str, Any], where: str) -> None:
    unknown = set(response) - _RESPONSE_KEYS
    if unknown:
        raise MockError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; use status, headers, body or error")
    if response.get("error") not in (None, "TIMEOUT", "NETWORK"):
        raise MockError(f"{where}: error must be TIMEOUT or NETWORK")
    status = response.get("status", 200)
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise MockError(f"{where}: status must be an HTTP status code (100-599), got {status!r}")
    headers = response.get("headers") or {}
    if not isinstance(headers, dict) or any(isinstance(v, (dict, list)) and not _value_list(v)
                                            for v in headers.values()):
        raise MockError(f"{where}: headers must be a mapping of header names to values "
                        f"(a list of values repeats the header, as several Set-Cookie lines do)")


def _value_list(value: Any) -> bool:
    return isinstance(value, list) and all(not isinstance(item, (dict, list)) for item in value)


def _matches(match: dict[str, Any], method: str, url: str, operation_ref: str | None) -> bool:
    if "operationRef" in match and match["operationRef"] != operation_ref:
        return False
    if "method" in match and str(match["method"]).upper() != method.upper():
        return False
    if "url" in match and not fnmatch.fnmatchcase(url, str(match["url"])):
        return False
    return True


def mock_transport(mocks: dict[str, Any], counters: dict[str, int]) -> httpx.MockTransport:
    """An httpx.MockTransport answering from the rules; `counters` (rule index -> calls) is updated in place."""
    import httpx

    rules = mocks.get("mocks", [])

    def handle(request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        operation_ref = request.extensions.get(OPERATION_REF_EXTENSION)
        for index, rule in enumerate(rules):
            if not _matches(rule["match"], request.method, url, operation_ref):
                continue
            responses = rule["respond"] if isinstance(rule["respond"], list) else [rule["respond"]]
            used = counters.get(str(index), 0)
            counters[str(index)] = used + 1
            return _respond(responses[min(used, len(responses) - 1)], request)
        named = f"{request.method} {url}" + (f" (operationRef {operation_ref})" if operation_ref else "")
        raise httpx.ConnectError(f"no mock rule matches {named}", request=request)

    return httpx.MockTransport(handle)


def _respond(response: dict[str, Any], request: httpx.Request) -> httpx.Response:
    import httpx

    if response.get("error") == "TIMEOUT":
        raise httpx.ReadTimeout("mocked timeout", request=request)
    if response.get("error") == "NETWORK":
        raise httpx.ConnectError("mocked network error", request=request)
    headers = {str(k): str(v) for k, v in (response.get("headers") or {}).items() if not isinstance(v, list)}
    repeated = [(str(k), str(item)) for k, v in (response.get("headers") or {}).items() if isinstance(v, list)
                for item in v]
    body = response.get("body")
    if body is None:
        content = b""
    elif isinstance(body, str):
        content = body.encode()
        if not has_header(headers, "Content-Type"):
            headers["Content-Type"] = "text/plain"
    else:
        content = json.dumps(body).encode()
        if not has_header(headers, "Content-Type"):
            headers["Content-Type"] = "application/json"
    return httpx.Response(int(response.get("status", 200)), headers=[*headers.items(), *repeated], content=content)
