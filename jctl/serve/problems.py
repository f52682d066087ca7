"""RFC 9457 Problem Details: every error the server answers, from bad HTTP input to engine refusals."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

PROBLEM_TYPE = "https://journeyforge.dev/problems/"  # + a stable code; the code is also in `code`


class HttpProblem(Exception):
    def __init__(self, status: int, code: str, title: str, detail: str = "", errors: list[str] | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(detail or title)
        self.status, self.code, self.title, self.detail = status, code, title, detail
        self.errors = errors or []
        self.headers = headers or {}


def problem_response(problem: HttpProblem, instance: str) -> JSONResponse:
    body: dict[str, Any] = {"type": PROBLEM_TYPE + problem.code, "title": problem.title, "status": problem.status,
                            "detail": problem.detail or problem.title, "instance": instance, "code": problem.code}
    if problem.errors:
        body["errors"] = [{"detail": error} for error in problem.errors]
    return JSONResponse(body, status_code=problem.status, media_type="application/problem+json",
                        headers=problem.headers)


def from_engine_error(error: Exception) -> HttpProblem:
    """The HTTP status for each engine/store refusal (none of them changed the store)."""
    from jctl.engine import errors as engine
    from jctl.errors import JctlError, UsageError
    from jctl.store.models import AmbiguousInstance, ClockError, StoreError
    from jctl.store.models import UnknownInstance as StoreUnknown

    details = error.details if isinstance(error, JctlError) else []
    message = error.message if isinstance(error, JctlError) else str(error)
    if isinstance(error, engine.InvalidInput):
        return HttpProblem(400, "INVALID_INPUT", "Start input does not match the journey's input schema",
                           message, details)
    if isinstance(error, engine.InvalidPayload):
        return HttpProblem(400, "INVALID_PAYLOAD", "Step payload does not match the step's input schema",
                           message, details)
    if isinstance(error, engine.NotCancellable):
        return HttpProblem(409, "NOT_CANCELLABLE", "Journey is not cancellable", message)
    if isinstance(error, engine.StepConflict):
        return HttpProblem(409, "STEP_NOT_ACTIVE", "Journey is not in a compatible state for this step", message)
    if isinstance(error, (engine.UnknownInstance, StoreUnknown, AmbiguousInstance)):
        # the API takes whole ids: a prefix matching several instances is not found, and names none of them
        return HttpProblem(404, "JOURNEY_NOT_FOUND", "Journey instance not found",
                           "no journey instance has this id; ids come from the start response")
    if isinstance(error, engine.KeyReused):
        return HttpProblem(409, "IDEMPOTENCY_KEY_REUSED", "Idempotency-Key reused with another body", message)
    if isinstance(error, engine.InstanceBusy):
        return HttpProblem(409, "INSTANCE_BUSY", "Journey instance is being advanced elsewhere", message,
                           headers={"Retry-After": "1"})
    if isinstance(error, ClockError):
        return HttpProblem(400, "CLOCK_ERROR", "The clock cannot move there", str(error))
    if isinstance(error, (UsageError, engine.EngineError)):
        return HttpProblem(400, "BAD_REQUEST", "Request cannot be processed", message, details)
    if isinstance(error, StoreError):
        return HttpProblem(409, "STORE_CONFLICT", "Store refused the change", str(error))
    return HttpProblem(500, "INTERNAL", "Internal error", f"{type(error).__name__}; see the server log")
