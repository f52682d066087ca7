"""The journey state a JourneyWorkflow holds, as plain JSON documents (what Temporal serialises), and the pure
bookkeeping the workflow does with the interpreter's transitions: the same commit rules as the local runner
(snapshot, history events, due work scheduled and cancelled), minus the SQLite transaction. Deterministic: no
clock, no I/O, no randomness."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from jctl.engine.transitions import Snapshot, Transition
from jctl.store.models import Event, Instance, NewDueWork, NewEvent


def _time(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _parse(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def instance_doc(instance: Instance) -> dict[str, Any]:
    return {"id": instance.id, "journeyName": instance.journey_name, "kind": instance.kind,
            "definition": instance.definition, "phase": instance.phase, "currentState": instance.current_state,
            "cursor": instance.cursor, "context": instance.context, "output": instance.output,
            "error": instance.error, "tags": list(instance.tags), "attributes": dict(instance.attributes),
            "mocks": instance.mocks, "createdAt": _time(instance.created_at),
            "updatedAt": _time(instance.updated_at), "version": instance.version}


def instance_of(doc: dict[str, Any]) -> Instance:
    return Instance(id=doc["id"], journey_name=doc["journeyName"], kind=doc["kind"], definition=doc["definition"],
                    phase=doc["phase"], current_state=doc["currentState"], cursor=dict(doc["cursor"]),
                    context=doc["context"], output=doc["output"], error=doc["error"], tags=list(doc["tags"]),
                    attributes=dict(doc["attributes"]), mocks=doc["mocks"], created_at=_parse(doc["createdAt"]),
                    updated_at=_parse(doc["updatedAt"]), version=int(doc["version"]))


def due_doc(work: NewDueWork) -> dict[str, Any]:
    return {"kind": work.kind, "dueAt": work.due_at.isoformat(), "state": work.state, "data": work.data}


def event_doc(event: NewEvent) -> dict[str, Any]:
    return {"type": event.type, "state": event.state, "data": event.data}


def transition_doc(transition: Transition) -> dict[str, Any]:
    snap = transition.snapshot
    return {"snapshot": {"phase": snap.phase, "currentState": snap.current_state, "context": snap.context,
                         "cursor": snap.cursor, "output": snap.output, "error": snap.error,
                         "attributes": snap.attributes},
            "events": [event_doc(e) for e in transition.events],
            "schedule": [due_doc(w) for w in transition.schedule],
            "cancelDue": transition.cancel_due, "halts": transition.halts}


def snapshot_of_doc(doc: dict[str, Any]) -> Snapshot:
    return Snapshot(doc["phase"], doc["currentState"], doc["context"], dict(doc["cursor"]), doc["output"],
                    doc["error"], dict(doc["attributes"]))


def history_event(doc: dict[str, Any], instance_id: str) -> Event:
    return Event(instance_id, int(doc["seq"]), datetime.fromisoformat(doc["at"]), doc["type"], doc["state"],
                 doc["data"])


@dataclass
class JourneyState:
    """An instance as the workflow keeps it: the instance document, its history and its pending due work."""

    instance: dict[str, Any]
    events: list[dict[str, Any]] = field(default_factory=list)
    due: list[dict[str, Any]] = field(default_factory=list)

    @property
    def running(self) -> bool:
        return bool(self.instance["phase"] == "RUNNING")

    def record(self, events: list[dict[str, Any]], at: datetime) -> None:
        for event in events:
            self.events.append({**event, "seq": len(self.events) + 1, "at": at.isoformat()})

    def schedule(self, due: list[dict[str, Any]]) -> None:
        self.due.extend(due)
        self.due.sort(key=lambda work: datetime.fromisoformat(work["dueAt"]))

    def next_due(self) -> dict[str, Any] | None:
        return self.due[0] if self.due else None

    def take_due(self, work: dict[str, Any]) -> None:
        self.due.remove(work)

    def commit(self, transition: dict[str, Any], counters: dict[str, int], at: datetime) -> None:
        """Apply one transition the way the local runner commits it (without its `run` bookkeeping: the
        activity always advances to the next pause, so there is no half-driven instance to resume)."""
        snap = transition["snapshot"]
        self.instance.update(phase=snap["phase"], currentState=snap["currentState"], context=snap["context"],
                             cursor={**snap["cursor"], "mockCounters": dict(counters)}, output=snap["output"],
                             error=snap["error"], attributes=snap["attributes"], updatedAt=at.isoformat(),
                             version=int(self.instance["version"]) + 1)
        cancel = transition["cancelDue"]
        if cancel is True:
            self.due.clear()
        elif cancel:
            self.due = [work for work in self.due if work["kind"] not in cancel]
        self.schedule(list(transition["schedule"]))
        self.record(transition["events"], at)
