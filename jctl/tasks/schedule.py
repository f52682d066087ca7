"""schedule:v1 (dsl.md 5.4): create or update a schedule binding in the store (committed with the transition);
the runner starts its runs as the simulated clock reaches them (jctl/engine/scheduled.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from jctl.store.models import ScheduleWrite
from jctl.tasks.plugins import Issue, PluginError, TaskCall, TaskOutcome


class Schedule:
    kind = "schedule:v1"

    def check(self, task: dict[str, Any], spec_path: Path | None) -> Iterator[Issue]:
        return iter(())  # shape in the JSON Schema; start state and the wait/webhook reachability in the graph rules

    def run(self, call: TaskCall) -> TaskOutcome:
        from jctl.clock import format_rfc3339, parse_duration, parse_rfc3339

        task = call.task
        start = str(task.get("start"))
        if start not in call.states:
            raise PluginError("INVALID_SPEC", f"schedule start {start!r} is not a state of spec.states")
        interval = self._value(call, "interval", str)
        max_runs = self._value(call, "maxRuns", int)
        if max_runs < 1:
            raise PluginError("SCHEDULE_ERROR", f"maxRuns must be a positive integer, not {max_runs}")
        try:
            if parse_duration(interval).total_seconds() <= 0:
                raise ValueError("it must be positive")
            first = parse_rfc3339(self._value(call, "startAt", str)) if "startAt" in task else call.now()
        except (ValueError, TypeError) as exc:
            raise PluginError("SCHEDULE_ERROR", f"schedule timing is not valid: {exc}") from None
        subject = call.evaluate(task["subjectId"], "task.subjectId") if "subjectId" in task else None
        if subject is not None and (not isinstance(subject, str) or not subject):
            raise PluginError("SCHEDULE_ERROR", f"subjectId must evaluate to a non-empty string, not {subject!r}")
        snapshot = call.evaluate(task["context"], "task.context") if "context" in task else call.context
        if not isinstance(snapshot, dict):
            raise PluginError("SCHEDULE_ERROR", "the schedule context mapper must return an object")
        journey = call.platform.get("journey") or {}
        name, version = str(journey.get("name")), str(journey.get("version"))
        on_existing = str(task.get("onExisting", "fail"))
        if on_existing == "fail" and call.active_schedules(name, version, subject, start):
            raise PluginError("SCHEDULE_EXISTS", f"a schedule binding for {name} {version}, subject "
                              f"{subject!r}, start {start!r} already exists (onExisting: fail)")
        write = ScheduleWrite(name, version, subject, start, first, interval, max_runs,
                              {k: v for k, v in snapshot.items() if k != "payload"}, on_existing)
        record = {"schedule": {"start": start, "firstRun": format_rfc3339(first), "interval": interval,
                               "maxRuns": max_runs, "subjectId": subject, "onExisting": on_existing}}
        return TaskOutcome(call.context, [write], record)

    @staticmethod
    def _value(call: TaskCall, name: str, kind: type[Any]) -> Any:
        raw = call.task.get(name)
        value = call.evaluate(raw, f"task.{name}") if isinstance(raw, dict) else raw
        if not isinstance(value, kind) or isinstance(value, bool):
            raise PluginError("SCHEDULE_ERROR", f"{name} must be {'an integer' if kind is int else 'a string'}, "
                              f"not {value!r}")
        return value


PLUGIN = Schedule()
