"""What an `expect:` step asserts, checked against the instance and its history in the scenario's store. Each
failure says what was expected and what was found."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterator
from typing import Any

from jctl.store.models import Event, Instance

def check(expect: dict[str, Any], instance: Instance, events: list[Event]) -> list[str]:
    """Every failed expectation of one `expect:` step, as `what: expected X, got Y`."""
    failures: list[str] = []
    for key, expected in expect.items():
        checker = CHECKERS[key]
        failures += checker(expected, instance, events)
    return failures


def _phase(expected: Any, instance: Instance, _: list[Event]) -> Iterator[str]:
    if instance.phase != expected:
        yield f"phase: expected {expected}, got {instance.phase}"


def _state(expected: Any, instance: Instance, _: list[Event]) -> Iterator[str]:
    if instance.current_state != expected:
        yield f"state: expected {expected}, got {instance.current_state}"


def _active_steps(expected: Any, instance: Instance, _: list[Event]) -> Iterator[str]:
    from jctl.engine.envelopes import active_steps

    actual = active_steps(instance)
    if sorted(actual) != sorted(expected):
        yield f"activeSteps: expected {sorted(expected)}, got {sorted(actual)}"


def _output(expected: Any, instance: Instance, _: list[Event]) -> Iterator[str]:
    output = instance.output if isinstance(instance.output, dict) else {}
    for name, value in expected.items():
        if name not in output:
            yield f"output.{name}: expected {value!r}, got no such field (output: {instance.output!r})"
        elif output[name] != value:
            yield f"output.{name}: expected {value!r}, got {output[name]!r}"


def _error(expected: Any, instance: Instance, _: list[Event]) -> Iterator[str]:
    code = (instance.error or {}).get("code")
    if code != expected:
        yield f"error: expected {expected}, got {code}"


def completed_states(events: list[Event]) -> list[str]:
    """States the instance (or a record of its parallel branches and subjourneys) left or ended in, in history
    order."""
    return [e.state for e in events if e.state and ("next" in e.data or e.type in ("branch.succeeded", "branch.failed")
                                                   or e.type.startswith("journey.") and e.type != "journey.started")]


def _visited(expected: Any, _: Instance, events: list[Event]) -> Iterator[str]:
    order = completed_states(events)
    position = 0
    for state in expected:
        try:
            position = order.index(state, position) + 1
        except ValueError:
            where = "at all" if state not in order else "after " + " -> ".join(expected[: expected.index(state)])
            yield f"visited: expected {state} completed {where}; path taken: {' -> '.join(order) or '(none)'}"
            return


def _not_visited(expected: Any, _: Instance, events: list[Event]) -> Iterator[str]:
    order = completed_states(events)
    for state in expected:
        if state in order:
            yield f"notVisited: expected {state} never completed; path taken: {' -> '.join(order)}"


def http_calls(events: list[Event]) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    for event in events:
        record = event.data.get("http")
        calls += record if isinstance(record, list) else [record] if isinstance(record, dict) else []
    return calls


def _http(expected: Any, _: Instance, events: list[Event]) -> Iterator[str]:
    calls = http_calls(events)
    for want in expected:
        method = str(want.get("method", "*")).upper()
        matching = [c for c in calls if fnmatch.fnmatchcase(str(c.get("url")), want["url"])
                    and fnmatch.fnmatchcase(str(c.get("method", "")).upper(), method)]
        if "count" in want and len(matching) != want["count"]:
            made = ", ".join(f"{c.get('method')} {c.get('url')}" for c in calls) or "none"
            yield f"http {method} {want['url']}: expected {want['count']} call(s), got {len(matching)} (calls: {made})"
        elif "count" not in want and not matching:
            yield f"http {method} {want['url']}: expected at least one call, got none"


def _published(expected: Any, _: Instance, events: list[Event]) -> Iterator[str]:
    """Records the journey's kafkaPublish:v1 tasks published, as their history events record them (the outbox
    rows are written in the same commit)."""
    records = [event.data["published"] for event in events
               if isinstance(event.data, dict) and isinstance(event.data.get("published"), dict)]
    for wanted in expected:
        matching = [record for record in records if record.get("topic") == wanted["topic"]
                    and ("key" not in wanted or record.get("key") == wanted["key"])]
        count = wanted.get("count")
        if len(matching) != count if count is not None else not matching:
            shown = count if count is not None else "at least 1"
            yield f"published {wanted}: expected {shown} record(s), got {len(matching)} (all published: {records})"


CHECKERS: dict[str, Callable[[Any, Instance, list[Event]], Iterator[str]]] = {
    "phase": _phase, "state": _state, "activeSteps": _active_steps, "output": _output, "error": _error,
    "visited": _visited, "notVisited": _not_visited, "http": _http, "published": _published,
}
