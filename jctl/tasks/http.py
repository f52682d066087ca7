"""The httpCall:v1 task: build the request (raw method/url or operationRef, defaults, interpolation, body
mappers), send it through an httpx transport seam, and shape the structured result the journey stores."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from jctl.redact import redact_headers, redact_json, redact_text, redact_url
from jctl.tasks.openapi_ops import OperationCatalog, OperationError

if TYPE_CHECKING:
    import httpx

OPERATION_REF_EXTENSION = "jctl.operationRef"  # request extension: lets mocks match on the operationRef
DEFAULT_TIMEOUT_MS = 10_000
PLACEHOLDER = re.compile(r"\$\{\s*context((?:\.[A-Za-z0-9_\-]+)*)\s*\}")

MapperEvaluator = Callable[[dict[str, Any]], Any]  # mapper {lang, expr} -> JSON value


class TaskError(Exception):
    """The request cannot be built (missing interpolation variable, bad operationRef, bad body)."""


class ResponseTooLarge(Exception):
    """The response body is over the http-body limit: refused, never silently truncated."""


class HttpClient(Protocol):
    """The part of httpx.Client the task uses; the runner passes a LazyClient."""

    def request(self, method: str, url: str, *, headers: dict[str, str], content: bytes | None, timeout: float,
                extensions: dict[str, Any]) -> httpx.Response: ...


class LazyClient:
    """An httpx.Client created on the first request: building its SSL context costs ~15 ms, too much to pay on
    every timer or signal that makes no call."""

    def __init__(self, make_transport: Callable[[], httpx.BaseTransport | None], max_body: int | None = None):
        self._make_transport = make_transport  # None: httpx's real network transport
        self._client: httpx.Client | None = None
        self.max_body = max_body  # the http-body limit: a longer body is never read into memory

    def request(self, method: str, url: str, *, headers: dict[str, str], content: bytes | None, timeout: float,
                extensions: dict[str, Any]) -> httpx.Response:
        import httpx

        if self._client is None:
            self._client = httpx.Client(transport=self._make_transport(), follow_redirects=False)
        request = self._client.build_request(method, url, headers=headers, content=content, timeout=timeout,
                                             extensions=extensions)
        response = self._client.send(request, stream=True)
        try:
            raw = _bounded_body(response, self.max_body)
        finally:
            response.close()
        bounded = httpx.Response(response.status_code, headers=response.headers.raw, content=raw, request=request)
        bounded.read()
        if self.max_body is not None and len(bounded.content) > self.max_body:
            raise ResponseTooLarge(_too_large(len(bounded.content), self.max_body))
        return bounded

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def _bounded_body(response: httpx.Response, max_body: int | None) -> bytes:
    declared = response.headers.get("content-length", "")
    if max_body is not None and declared.isdigit() and int(declared) > max_body:
        raise ResponseTooLarge(_too_large(int(declared), max_body))
    import httpx

    chunks, total = [], 0
    try:
        for chunk in response.iter_raw():
            total += len(chunk)
            if max_body is not None and total > max_body:
                raise ResponseTooLarge(_too_large(None, max_body))
            chunks.append(chunk)
    except httpx.StreamConsumed:  # a mock transport's response arrives already read, in memory
        return response.content
    return b"".join(chunks)


def _too_large(size: int | None, limit: int) -> str:
    from jctl.limits import human, over_message

    message = over_message("the response body", size if size is not None else limit + 1, limit, "http_body")
    return message if size is not None else message.replace(human(limit + 1), f"more than {human(limit)}")


@dataclass
class HttpCall:
    method: str
    url: str
    headers: dict[str, str]
    content: bytes | None
    timeout_ms: int
    operation_ref: str | None = None
    notify: bool = False


@dataclass
class HttpOutcome:
    result: dict[str, Any]
    record: dict[str, Any] = field(default_factory=dict)
    set_cookies: list[str] = field(default_factory=list)  # every Set-Cookie line, for the run's cookie jar


def interpolate(text: str, context: dict[str, Any]) -> str:
    """Replace `${context.a.b}` placeholders; a missing path is an error, never an empty string."""

    def value_of(match: re.Match[str]) -> str:
        value: Any = context
        for part in [p for p in match.group(1).split(".") if p]:
            if not isinstance(value, dict) or part not in value:
                raise TaskError(f"interpolation {match.group(0)} refers to a missing context field")
            value = value[part]
        return value if isinstance(value, str) else json.dumps(value)

    return PLACEHOLDER.sub(value_of, text)


def has_header(headers: dict[str, str], name: str) -> bool:
    """HTTP header names are case-insensitive: `content-type` and `Content-Type` are the same header."""
    wanted = name.lower()
    return any(key.lower() == wanted for key in headers)


def set_header(headers: dict[str, str], name: str, value: str) -> None:
    """Set a header, replacing it in whatever case it was set before (dsl.md 2.3: the later layer wins)."""
    for key in [key for key in headers if key.lower() == name.lower()]:
        del headers[key]
    headers[name] = value


def build_call(task: dict[str, Any], spec: dict[str, Any], context: dict[str, Any],
               catalog: OperationCatalog, evaluate_mapper: MapperEvaluator) -> HttpCall:
    defaults = ((spec.get("defaults") or {}).get("http") or {})
    params = task.get("params") or {}
    headers = {str(k): str(v) for k, v in (defaults.get("headers") or {}).items()}
    if task.get("accept"):
        set_header(headers, "Accept", str(task["accept"]))  # task-level: beats a default, not an explicit header
    raw_headers = {**(task.get("headers") or {}), **(params.get("headers") or {})}
    for name, value in raw_headers.items():
        set_header(headers, str(name), interpolate(str(value), context))
    operation_ref = task.get("operationRef")
    if operation_ref:
        try:
            operation = catalog.resolve(str(operation_ref))
            path_params = {k: interpolate(str(v), context) for k, v in (params.get("path") or {}).items()}
            url, method = operation.url(path_params), operation.method
        except OperationError as exc:
            raise TaskError(str(exc)) from None
    else:
        if not task.get("method") or not task.get("url"):
            raise TaskError("httpCall:v1 needs either operationRef or both method and url")
        url, method = interpolate(str(task["url"]), context), str(task["method"]).upper()
    query = {k: interpolate(str(v), context) for k, v in (params.get("query") or {}).items()}
    if query:
        from urllib.parse import urlencode

        url += ("&" if "?" in url else "?") + urlencode(query)
    content = _body(task.get("body"), context, headers, evaluate_mapper)
    timeout_ms = int(task.get("timeoutMs") or defaults.get("timeoutMs") or DEFAULT_TIMEOUT_MS)
    return HttpCall(method, url, headers, content, timeout_ms, operation_ref, task.get("mode") == "notify")


def _body(body: Any, context: dict[str, Any], headers: dict[str, str],
          evaluate_mapper: MapperEvaluator) -> bytes | None:
    if body is None:
        return None
    if isinstance(body, str):
        return interpolate(body, context).encode()
    if isinstance(body, dict) and ("mapper" in body or "mapperRef" in body):
        body = evaluate_mapper(body)
    if not has_header(headers, "Content-Type"):
        headers["Content-Type"] = "application/json"
    return json.dumps(body).encode()


def execute(call: HttpCall, client: HttpClient) -> HttpOutcome:
    """Send the call with `client`; network errors and timeouts become result data."""
    import httpx

    record: dict[str, Any] = {"method": call.method, "url": redact_url(call.url), "headers": redact_headers(call.headers),
                              "timeoutMs": call.timeout_ms}
    if call.operation_ref:
        record["operationRef"] = call.operation_ref
    set_cookies: list[str] = []
    try:
        response = client.request(call.method, call.url, headers=call.headers, content=call.content,
                                  timeout=call.timeout_ms / 1000,
                                  extensions={OPERATION_REF_EXTENSION: call.operation_ref})
    except ResponseTooLarge as exc:
        result = {"ok": False, "error": {"type": "RESPONSE_TOO_LARGE", "message": _describe(exc, call)}}
    except httpx.TimeoutException as exc:
        result = {"ok": False, "error": {"type": "TIMEOUT", "message": _describe(exc, call)}}
    except httpx.HTTPError as exc:
        result = {"ok": False, "error": {"type": "NETWORK", "message": _describe(exc, call)}}
    else:
        result = {"status": response.status_code, "ok": 200 <= response.status_code < 300,
                  "headers": redact_headers(_headers(response)), "body": _parse_body(response)}
        set_cookies = response.headers.get_list("set-cookie")
    record["result"] = {k: redact_json(v) for k, v in result.items() if k != "headers"}
    return HttpOutcome(result, record, set_cookies)


def _describe(exc: Exception, call: HttpCall) -> str:
    text = str(exc) or type(exc).__name__
    return redact_text(f"{call.method} {call.url}: {text}", call.url)


def _parse_body(response: httpx.Response) -> Any:
    content_type = response.headers.get("content-type", "")
    if not response.content:
        return None
    if "json" in content_type.lower():
        try:
            value = response.json()
            # NaN/Infinity are not JSON and a lone surrogate is not text: keep such a body as the text it was
            json.dumps(value, allow_nan=False, ensure_ascii=False).encode("utf-8")
            return value
        except ValueError:
            return response.text
    return response.text


def _headers(response: httpx.Response) -> dict[str, str]:
    # raw keeps the server's casing ("Content-Type"), which is what journeys write in predicates
    return {key.decode("latin-1"): value.decode("latin-1") for key, value in response.headers.raw}
