"""The durable store of jctl's local runner: instances, history, due work, leases and the simulated clock.

Importing this package loads sqlite3; the CLI imports it only in the commands that run or inspect journeys. The
dataclass records (jctl.store.models) load when first named: a listing never needs them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from jctl.store.basics import (
    DUE_KINDS,
    PHASES,
    AmbiguousInstance,
    ClockError,
    ConflictError,
    InstanceSummary,
    StoreError,
    UnknownInstance,
    lazy_names,
    new_instance_id,
)
from jctl.store.db import Store, default_db_path, new_lease_owner

if TYPE_CHECKING:
    from jctl.store.models import DueWork, Event, Instance, KeyRecord, NewDueWork, NewEvent
else:
    __getattr__ = lazy_names("jctl.store.models", frozenset(
        {"DueWork", "Event", "Instance", "KeyRecord", "NewDueWork", "NewEvent"}), globals())

__all__ = [
    "DUE_KINDS",
    "PHASES",
    "AmbiguousInstance",
    "ClockError",
    "ConflictError",
    "DueWork",
    "Event",
    "Instance",
    "InstanceSummary",
    "KeyRecord",
    "NewDueWork",
    "NewEvent",
    "Store",
    "StoreError",
    "UnknownInstance",
    "default_db_path",
    "new_instance_id",
    "new_lease_owner",
]
