"""The Journeys API envelopes `run`/`status`/`signal` print: JourneyStartResponse, JourneyStatus and
JourneyOutcome, with HAL-style `_links` honouring spec.httpSurface.links and spec.lifecycle.cancellable. Every
driver answers with these, so schema-marked secrets are masked here, once (jctl.masking)."""

from __future__ import annotations

from typing import Any

from jctl.engine.cursor import FRAME_KINDS, INPUT_STATES, paused_input_steps
from jctl.masking import shown_envelope
from jctl.store.models import Instance

API = "/api/v1/journeys"
STATUS_RESERVED = {"journeyId", "journeyName", "phase", "currentState", "updatedAt", "tags", "attributes", "_links"}
OUTCOME_RESERVED = {"journeyId", "journeyName", "phase", "status", "output", "error", "tags", "attributes", "_links",
                    "outcomeId", "outputViolations", "compensation", "compensationOf", "problem", "errorBody",
                    "setCookie"}


def _spec(instance: Instance) -> dict[str, Any]:
    return instance.definition.get("spec") or {}


def links_enabled(instance: Instance) -> bool:
    links = (_spec(instance).get("httpSurface") or {}).get("links") or {}
    return links.get("enabled", True) is not False


def cancellable(instance: Instance) -> bool:
    return (_spec(instance).get("lifecycle") or {}).get("cancellable", True) is not False


def _link(href: str, method: str = "GET") -> dict[str, str]:
    return {"href": href, "method": method}


def _timestamp(instance: Instance) -> str | None:
    from jctl.clock import format_rfc3339

    return format_rfc3339(instance.updated_at) if instance.updated_at else None


def start_response(instance: Instance) -> dict[str, Any]:
    body: dict[str, Any] = {"journeyId": instance.id, "journeyName": instance.journey_name,
                            "statusUrl": f"{API}/{instance.id}"}
    if links_enabled(instance):
        body["_links"] = {"self": _link(f"{API}/{instance.id}"), "result": _link(f"{API}/{instance.id}/result")}
    return body


def active_steps(instance: Instance) -> list[str]:
    """The external-input states that can take a signal now (several while parallel branches wait)."""
    if instance.phase != "RUNNING":
        return []
    paused = instance.cursor.get("paused")
    if paused in INPUT_STATES:
        return [str(instance.current_state)]
    if paused in FRAME_KINDS:
        return [state_id for _, state_id, _ in paused_input_steps(instance.cursor)]
    return []


def journey_status(instance: Instance, project_var: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"journeyId": instance.id, "journeyName": instance.journey_name,
                            "phase": instance.phase, "currentState": instance.current_state or "",
                            "updatedAt": _timestamp(instance), "tags": list(instance.tags),
                            "attributes": dict(instance.attributes)}
    paused = instance.cursor.get("paused")
    if instance.phase == "RUNNING" and paused:
        body["waitingFor"] = paused  # local-runner extras: what the instance is paused at, which steps take input
        if paused in FRAME_KINDS:
            body["activeSteps"] = active_steps(instance)
    if links_enabled(instance):
        links = {"self": _link(f"{API}/{instance.id}"), "result": _link(f"{API}/{instance.id}/result")}
        if instance.phase == "RUNNING" and cancellable(instance):
            links["cancel"] = _link(f"{API}/{instance.id}/steps/cancel", "POST")
        for step in active_steps(instance):
            links[step] = _link(f"{API}/{instance.id}/steps/{step}", "POST")
        body["_links"] = links
    projected = instance.context.get(project_var) if project_var else None
    if isinstance(projected, dict):
        body.update({k: v for k, v in projected.items() if k not in STATUS_RESERVED})
    return shown_envelope(body, instance.definition)


def business_status(instance: Instance) -> str:
    """Mirrors output.status when there is one; otherwise a stable code from the phase or the error."""
    status = instance.output.get("status") if isinstance(instance.output, dict) else None
    if isinstance(status, str):
        return status
    if instance.phase == "FAILED" and instance.error:
        return str(instance.error.get("code") or "FAILED")
    return instance.phase


def journey_outcome(instance: Instance) -> dict[str, Any]:
    body: dict[str, Any] = {"journeyId": instance.id, "journeyName": instance.journey_name,
                            "phase": instance.phase, "status": business_status(instance),
                            "output": instance.output if instance.phase == "SUCCEEDED" else None}
    if instance.error:
        body["error"] = dict(instance.error)
    if instance.cursor.get("problem"):
        body["problem"] = dict(instance.cursor["problem"])  # the error as RFC 9457 Problem Details
    if "errorBody" in instance.cursor:
        body["errorBody"] = instance.cursor["errorBody"]  # spec.errors.envelope format custom
    if instance.cursor.get("compensation"):
        body["compensation"] = dict(instance.cursor["compensation"])  # sync: its phase; async: the linked instance
    if instance.cursor.get("compensationOf"):
        body["compensationOf"] = instance.cursor["compensationOf"]
    if instance.cursor.get("outcomeId"):
        body["outcomeId"] = instance.cursor["outcomeId"]  # spec.outcomes classification (dsl.md 20)
    if instance.cursor.get("outputViolations"):
        body["outputViolations"] = list(instance.cursor["outputViolations"])  # the output broke spec.output.schema
    if cookie_lines := returned_cookies(instance):  # dsl.md 22.4; the values go out only as Set-Cookie headers
        from jctl.engine.cookies import masked_line

        body["setCookie"] = [masked_line(line) for line in cookie_lines]
    body["tags"] = list(instance.tags)
    body["attributes"] = dict(instance.attributes)
    if links_enabled(instance):
        body["_links"] = {"self": _link(f"{API}/{instance.id}/result")}
    response = (_spec(instance).get("output") or {}).get("response") or {}
    output_var = response.get("outputVar")
    projected = instance.context.get(str(output_var)) if output_var else None
    if isinstance(projected, dict):
        body.update({k: v for k, v in projected.items() if k not in OUTCOME_RESERVED})
    return shown_envelope(body, instance.definition)


def returned_cookies(instance: Instance) -> list[str]:
    """The Set-Cookie lines spec.cookies.returnToClient selected when the run succeeded (dsl.md 22.4)."""
    if instance.phase != "SUCCEEDED":
        return []
    from jctl.engine.cookies import RETURNED_KEY  # the cookie jar's module: `status` of a running journey skips it

    lines = instance.cursor.get(RETURNED_KEY)
    return [str(line) for line in lines] if isinstance(lines, list) else []


def envelope(instance: Instance, project_var: str | None = None) -> dict[str, Any]:
    """JourneyOutcome once terminal, JourneyStatus while running."""
    if instance.phase == "RUNNING":
        return journey_status(instance, project_var)
    return journey_outcome(instance)
