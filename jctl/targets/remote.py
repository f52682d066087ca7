"""The Journeys API over HTTP (httpx): a `jctl serve` or any JourneyForge engine exposing /api/v1/journeys.

Problem Details answers become the same JctlErrors the local runner raises, so exit codes match: input that
cannot start a journey is a usage error (2), everything else the server refused is a finding (1). A target that
cannot be reached is a usage error (2) naming the URL."""

from __future__ import annotations

import builtins

from pathlib import Path
from typing import Any

import httpx

from jctl.errors import FindingsError, UsageError

API = "/api/v1/journeys"
TERMINAL = ("SUCCEEDED", "FAILED")


class HttpTarget:
    def __init__(self, base_url: str, *, timeout_s: float = 30.0, transport: httpx.BaseTransport | None = None):
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout_s, transport=transport)

    def start(self, definition: Path, input: Any, *, idempotency_key: str | None = None) -> dict[str, Any]:
        from jctl.engine.start import load_definition

        name = (load_definition(definition).get("metadata") or {}).get("name")
        if not isinstance(name, str) or not name:
            raise UsageError(f"{definition}: metadata.name is missing; the API starts journeys by name")
        return self._call("POST", f"{API}/{name}/start", json=input, key=idempotency_key)

    def signal(self, journey_id: str, payload: Any, *, step: str | None = None,
               idempotency_key: str | None = None) -> dict[str, Any]:
        step = step or self._only_active_step(journey_id)
        return self._call("POST", f"{API}/{journey_id}/steps/{step}", json=payload, key=idempotency_key)

    def status(self, journey_id: str) -> dict[str, Any]:
        """JourneyOutcome once terminal, JourneyStatus while running: what `jctl status` shows locally."""
        status = self._call("GET", f"{API}/{journey_id}")
        if status.get("phase") in TERMINAL:
            return self._call("GET", f"{API}/{journey_id}/result")
        return status

    def list(self, *, phase: str | None = None, journey: str | None = None, limit: int = 50) -> builtins.list[dict[str, Any]]:
        params: dict[str, str | int] = {"limit": limit}
        if phase:
            params["phase"] = phase
        if journey:
            params["journeyName"] = journey
        rows: builtins.list[dict[str, Any]] = self._call("GET", "/_jctl/instances", params=params)["items"]
        return rows

    def history(self, journey_id: str) -> builtins.list[dict[str, Any]]:
        events: builtins.list[dict[str, Any]] = self._call("GET", f"/_jctl/instances/{journey_id}/history")["items"]
        return events

    def cancel(self, journey_id: str) -> dict[str, Any]:
        return self._call("POST", f"{API}/{journey_id}/steps/cancel")

    def close(self) -> None:
        self._http.close()

    def _only_active_step(self, journey_id: str) -> str:
        status = self._call("GET", f"{API}/{journey_id}")
        steps = status.get("activeSteps") or ([status["currentState"]] if status.get("waitingFor") in
                                              ("wait", "webhook") else [])
        if len(steps) != 1:
            raise FindingsError(f"instance {journey_id} has {len(steps) or 'no'} active input step(s)"
                                f"{': ' + ', '.join(steps) if steps else ''}", hint="pass --step STATE")
        return str(steps[0])

    def _call(self, method: str, path: str, *, json: Any = None, key: str | None = None,
              params: dict[str, str | int] | None = None) -> dict[str, Any]:
        headers = {"Idempotency-Key": key} if key else {}
        try:
            response = self._http.request(method, path, json=json, headers=headers, params=params)
        except httpx.HTTPError as error:
            raise UsageError(f"cannot reach the target {self.base_url}: {type(error).__name__}: {error}",
                             hint="check the URL (--target / JCTL_TARGET) and that the server is running") from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code >= 400 or not isinstance(body, dict):
            raise _refusal(response, body)
        return body


def _refusal(response: httpx.Response, body: Any) -> Exception:
    problem = body if isinstance(body, dict) else {}
    message = str(problem.get("detail") or problem.get("title") or f"HTTP {response.status_code}")
    details = [str(e.get("detail", e)) if isinstance(e, dict) else str(e) for e in problem.get("errors") or []]
    where = f"{response.request.method} {response.request.url}: {response.status_code}"
    if problem.get("code") in ("INVALID_INPUT", "JOURNEY_UNKNOWN", "MALFORMED_JSON", "UNSUPPORTED_MEDIA_TYPE"):
        return UsageError(f"{where}: {message}", details=details)
    if response.status_code >= 500:
        return FindingsError(f"{where}: the target failed: {message}")
    return FindingsError(f"{where}: {message}", details=details)
