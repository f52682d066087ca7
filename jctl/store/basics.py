"""What reading the store needs besides its dataclass records (jctl.store.models): the exception tree, phases,
instance summaries and start keys. A listing imports only these, never `dataclasses`.

StoreError
 ├── UnknownInstance     no instance id starts with what was given
 ├── AmbiguousInstance   the prefix matches several instances
 ├── ConflictError       the instance changed under us (optimistic concurrency), or an id/key is already used
 ├── DamagedInstance     a stored row cannot be read
 └── ClockError          the simulated clock may only move forward
"""

from __future__ import annotations

from collections.abc import Callable
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


class InstanceSummary(NamedTuple):
    """What a listing shows of an instance, read without its definition, context or cursor."""

    id: str
    journey_name: str
    phase: str
    current_state: str | None
    created_ms: int  # epoch milliseconds, as stored: a listing formats them without building datetimes
    updated_ms: int
    error: dict[str, Any] | None


# A summary's fields in order: what a listing streams (an InstanceSummary, or the plain row SQLite returns for an
# instance without an error, which is the same fields with nothing to decode).
SummaryFields = tuple[str, str, str, "str | None", int, int, "dict[str, Any] | None"]


START_KEY_PREFIX = "\x00start:"  # idempotency records of a keyed start; NUL cannot appear in a CLI or HTTP key


class StartKey(NamedTuple):
    """The instance a keyed start created, and the hash of the request it came with (None when the caller, like
    `jctl run`, replays a key whatever its input); the answer is the instance's idempotency record of the start."""

    instance_id: str
    request_hash: str | None


class DrivePosition(NamedTuple):
    """Where an instance's history stands: its version and how many events it holds; the simulated clock and
    whether keys of the instance wait for their answer and whether its lease is free, read with them."""

    version: int
    events: int
    now_ms: int = 0
    keys_pending: bool = True
    lease_free: bool = True  # for the owner that asked


def lazy_names(module: str, names: frozenset[str], namespace: dict[str, Any]) -> Callable[[str], Any]:
    """A module `__getattr__` importing `module` when one of `names` is first asked for (its classes cost time a
    listing or `status` does not need to spend) and keeping what it found in the asking module's `namespace`."""

    def attribute(name: str) -> Any:
        if name not in names:
            raise AttributeError(f"module {namespace['__name__']!r} has no attribute {name!r}")
        import importlib

        found = namespace[name] = getattr(importlib.import_module(module), name)
        return found

    return attribute
