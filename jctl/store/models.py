"""Records the durable store keeps (instances, history events, due work, plugin writes); the exception tree and
the other records a listing reads live in jctl.store.basics and are named here too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from jctl.store.basics import (  # named here too, as every caller imports them
    DUE_KINDS as DUE_KINDS,
    PHASES as PHASES,
    START_KEY_PREFIX as START_KEY_PREFIX,
    AmbiguousInstance as AmbiguousInstance,
    ClockError as ClockError,
    ConflictError as ConflictError,
    DamagedInstance as DamagedInstance,
    InstanceSummary as InstanceSummary,
    StartKey as StartKey,
    StoreError as StoreError,
    SummaryFields as SummaryFields,
    UnknownInstance as UnknownInstance,
    new_instance_id as new_instance_id,
)


@dataclass
class Instance:
    """One journey (or API) run. `cursor` belongs to the engine; `version` counts committed transitions."""

    id: str
    journey_name: str
    kind: str  # "Journey" | "Api"
    definition: dict[str, Any]
    phase: str  # "RUNNING" | "SUCCEEDED" | "FAILED"
    current_state: str | None
    cursor: dict[str, Any]
    context: dict[str, Any]
    output: Any = None
    error: dict[str, Any] | None = None
    tags: list[str] = field(default_factory=list)
    attributes: dict[str, str] = field(default_factory=dict)
    mocks: dict[str, Any] | None = None
    # Filled in by Store.create_instance (from the simulated clock) when left as None.
    created_at: datetime | None = None
    updated_at: datetime | None = None
    version: int = 0


@dataclass
class NewEvent:
    type: str
    state: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Event:
    instance_id: str
    seq: int
    at: datetime
    type: str
    state: str | None
    data: dict[str, Any]


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
