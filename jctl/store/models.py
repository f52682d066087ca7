"""Records the durable store keeps: instances and history events, the two a read returns, defined here; the records
the runner and plugins exchange with it (jctl.store.records) and the exception tree and summaries a listing reads
(jctl.store.basics) are named here too. The records module loads when one of its names is first asked for, so `jctl
status` and `history` do not create its classes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from jctl.store.basics import (  # named here too, as every caller imports them
    DUE_KINDS as DUE_KINDS,
    PHASES as PHASES,
    START_KEY_PREFIX as START_KEY_PREFIX,
    AmbiguousInstance as AmbiguousInstance,
    ClockError as ClockError,
    ConflictError as ConflictError,
    DamagedInstance as DamagedInstance,
    DrivePosition as DrivePosition,
    InstanceSummary as InstanceSummary,
    StartKey as StartKey,
    StoreError as StoreError,
    SummaryFields as SummaryFields,
    UnknownInstance as UnknownInstance,
    lazy_names,
    new_instance_id as new_instance_id,
)

if TYPE_CHECKING:
    from jctl.store.records import (
        CachePut as CachePut,
        DueWork as DueWork,
        KeyRecord as KeyRecord,
        NewDueWork as NewDueWork,
        NewEvent as NewEvent,
        OutboxEntry as OutboxEntry,
        OutboxRecord as OutboxRecord,
        PreparedCreate as PreparedCreate,
        ScheduleBinding as ScheduleBinding,
        ScheduleWrite as ScheduleWrite,
        StepWrite as StepWrite,
        StoreWrite as StoreWrite,
    )
else:
    __getattr__ = lazy_names("jctl.store.records", frozenset(
        {"CachePut", "DueWork", "KeyRecord", "NewDueWork", "NewEvent", "OutboxEntry", "OutboxRecord", "PreparedCreate",
         "ScheduleBinding", "ScheduleWrite", "StepWrite", "StoreWrite"}), globals())


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
class Event:
    """One entry of an instance's history, as stored."""

    instance_id: str
    seq: int
    at: datetime
    type: str
    state: str | None
    data: dict[str, Any]
