"""The durable store of jctl's local runner: instances, history, due work, leases and the simulated clock.

Importing this package loads sqlite3; the CLI imports it only in the commands that run or inspect journeys.
"""

from __future__ import annotations

from jctl.store.db import Store, default_db_path, new_lease_owner
from jctl.store.models import (
    DUE_KINDS,
    PHASES,
    AmbiguousInstance,
    ClockError,
    ConflictError,
    DueWork,
    Event,
    Instance,
    InstanceSummary,
    KeyRecord,
    NewDueWork,
    NewEvent,
    StoreError,
    UnknownInstance,
    new_instance_id,
)

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
