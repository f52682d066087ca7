"""Records the runner, the scheduler and the task plugins exchange with the durable store: new events and due work,
due work as read, idempotency keys and plugin writes (outbox records, cache puts, schedules). Loaded when first named
(through jctl.store.models): commands that only read an instance or its history never create these classes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class NewEvent:
    type: str
    state: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class NewDueWork:
    kind: str  # "timer" | "step-timeout" | "deadline" | "run"
    due_at: datetime
    state: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class DueWork:
    id: int
    instance_id: str
    kind: str
    due_at: datetime
    state: str | None
    data: dict[str, Any]


@dataclass
class KeyRecord:
    """What an idempotency key answers: `response` is None while the drive it started is unfinished (a process
    died after committing the step's first transition); the next holder of the lease finishes it first."""

    key: str
    response: dict[str, Any] | None
    project_var: str | None = None


@dataclass
class StepWrite:
    """One transition's share of a commit that may hold several (the runner groups a journey's pure steps): its
    history events, due-work changes, plugin writes and idempotency records, applied in transition order."""

    events: list[NewEvent]
    schedule: list[NewDueWork] = field(default_factory=list)
    cancel_due: bool | list[str] = False
    idempotency: KeyRecord | None = None
    settle: dict[str, dict[str, Any]] | None = None  # answers of pending keys this transition's halt settles
    writes: list[StoreWrite] = field(default_factory=list)  # outbox records, cache puts, schedules


@dataclass
class PreparedCreate:
    """A new instance encoded for the commit that will insert it (with its first events and due work) ahead of the
    transitions of its first drive; `instance` is what the store will return for it, decoded from that text."""

    instance: Any  # models.Instance
    events: list[NewEvent]
    due: list[NewDueWork]
    document: str  # the definition as stored
    definition_hash: str
    columns: tuple[str | None, ...]  # rows.mutable_columns of the instance


@dataclass
class OutboxRecord:
    """A record a kafkaPublish:v1 task wrote; committed with the transition that published it."""

    topic: str
    value: Any
    key: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    state: str | None = None  # the task state that published it


@dataclass
class CachePut:
    """A cache:v1 put; committed with its transition, so a rolled-back step leaves the cache as it was."""

    key: str
    value: Any
    ttl_seconds: int


@dataclass
class ScheduleWrite:
    """A schedule:v1 binding to create, or (upsert) to update in place, with its first run as due work."""

    journey_name: str
    journey_version: str
    subject_id: str | None
    start_state: str
    first_run: datetime
    interval: str
    max_runs: int
    last_context: dict[str, Any]
    on_existing: str  # fail | upsert | addAnother (fail is checked by the task before it writes)
    binding_id: str = ""  # filled when written


@dataclass
class ScheduleBinding:
    """A stored schedule binding; `status` ACTIVE, COMPLETED (maxRuns reached) or CANCELLED."""

    id: str
    journey_name: str
    journey_version: str
    subject_id: str | None
    start_state: str
    interval: str
    max_runs: int
    runs_executed: int
    next_run: datetime | None
    status: str
    creator: str  # the instance whose definition, mocks and platform config scheduled runs use
    last_run: str | None
    last_context: dict[str, Any]
    created_at: datetime


StoreWrite = OutboxRecord | CachePut | ScheduleWrite


@dataclass
class OutboxEntry:
    """An outbox record as stored."""

    seq: int
    instance_id: str
    state: str | None
    at: datetime
    topic: str
    key: str | None
    headers: dict[str, str]
    value: Any
