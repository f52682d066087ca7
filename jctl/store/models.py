"""Records the durable store keeps (instances, history events, due work) and the store's exception tree.

StoreError
 ├── UnknownInstance     no instance id starts with what was given
 ├── AmbiguousInstance   the prefix matches several instances
 ├── ConflictError       the instance changed under us (optimistic concurrency), or an id/key is already used
 └── ClockError          the simulated clock may only move forward
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

PHASES = ("RUNNING", "SUCCEEDED", "FAILED")
DUE_KINDS = ("timer", "step-timeout", "deadline", "run")


class StoreError(Exception):
    """Base of every store failure; the message is meant for people."""


class UnknownInstance(StoreError):
    pass


class AmbiguousInstance(StoreError):
    pass


class ConflictError(StoreError):
    pass


class DamagedInstance(StoreError):
    """A stored instance row cannot be read (corrupt JSON): reported, the other instances stay usable."""


class ClockError(StoreError):
    pass


def new_instance_id() -> str:
    import uuid

    return uuid.uuid4().hex


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


class InstanceSummary(NamedTuple):
    """What a listing shows of an instance, read without its definition, context or cursor."""

    id: str
    journey_name: str
    phase: str
    current_state: str | None
    created_ms: int  # epoch milliseconds, as stored: a listing formats them without building datetimes
    updated_ms: int
    error: dict[str, Any] | None


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


class DrivePosition(NamedTuple):
    """Where an instance's history stands: its version and how many events it holds."""

    version: int
    events: int


START_KEY_PREFIX = "\x00start:"  # idempotency records of a keyed start; NUL cannot appear in a CLI or HTTP key


@dataclass
class KeyRecord:
    """What an idempotency key answers: `response` is None while the drive it started is unfinished (a process
    died after committing the step's first transition); the next holder of the lease finishes it first."""

    key: str
    response: dict[str, Any] | None
    project_var: str | None = None


class StartKey(NamedTuple):
    """The instance a keyed start created, and the hash of the request it came with (None when the caller, like
    `jctl run`, replays a key whatever its input); the answer is the instance's idempotency record of the start."""

    instance_id: str
    request_hash: str | None


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
