"""The values the interpreter, the state handlers and the parallel state pass around: snapshots, transitions,
state errors, and the rules for where a paused state continues once its trigger arrives."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from jctl.store.models import NewDueWork, NewEvent, StoreWrite

TERMINAL_PHASES = ("SUCCEEDED", "FAILED")
# state types whose step only computes (expressions, the clock): their transitions are `pure`
PURE_STATE_TYPES = frozenset({"transform", "choice", "succeed", "fail", "wait", "webhook", "timer"})


@dataclass
class Snapshot:
    """What the interpreter reads and writes of an instance; `current_state` is the state to execute next,
    or the state paused at when cursor["paused"] is set."""

    phase: str
    current_state: str | None
    context: dict[str, Any]
    cursor: dict[str, Any]
    output: Any = None
    error: dict[str, Any] | None = None
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass
class Transition:
    """One committed step of an instance: its new snapshot, history events and due-work changes."""

    snapshot: Snapshot
    events: list[NewEvent]
    schedule: list[NewDueWork] = field(default_factory=list)
    cancel_due: bool | list[str] = False
    halts: bool = False  # the interpreter stops after this one (paused or terminal)
    spawn: list[dict[str, Any]] = field(default_factory=list)  # linked instances to start once this is committed
    writes: list[StoreWrite] = field(default_factory=list)  # task plugin effects (outbox, cache), same commit
    # its step made no effect outside the instance (no HTTP or plugin call, no linked instance): a driver may commit
    # it together with the transitions after it, as a crash before that commit makes the resumed drive redo it alike
    pure: bool = False


class StateError(Exception):
    """A state cannot complete; the instance fails with `code` and this message as the reason."""

    def __init__(self, code: str, reason: str):
        super().__init__(reason)
        self.code = code
        self.reason = reason


def input_next(state: dict[str, Any]) -> str | None:
    """A wait/webhook continues at `next`; the corpus writes it as `default:` inside the block too."""
    block = state.get(state.get("type", "")) or {}
    found = state.get("next") or block.get("next") or block.get("default")
    return str(found) if found else None


def timeout_next(state: dict[str, Any], paused_kind: str | None) -> str | None:
    """Where a wait/webhook goes when its step timeout fires: `onTimeout` in its block or on the state."""
    block = state.get(paused_kind or "") or {}
    found = block.get("onTimeout") or state.get("onTimeout")
    return str(found) if found else None


def timer_next(state: dict[str, Any]) -> str | None:
    """Where a timer state goes when it fires."""
    found = state.get("next")
    return str(found) if found else None


def http_records(transition: Transition) -> list[Any]:
    """The HTTP call records of a transition's events (nested graphs report them on their parent state)."""
    return [event.data["http"] for event in transition.events if "http" in event.data]


@dataclass
class Effects:
    """What the steps of nested records did, carried by the owner's transition: their history events (each naming
    its record's path under `branch`), their HTTP call records and their task plugins' store writes (committed
    with that transition, so exactly once)."""

    events: list[NewEvent] = field(default_factory=list)
    calls: list[Any] = field(default_factory=list)
    writes: list[StoreWrite] = field(default_factory=list)
    trigger_next: str | None = None  # where the record a trigger resumed went on from the triggered state

    def add(self, transition: Transition) -> None:
        self.events += transition.events
        self.calls += http_records(transition)
        self.writes += transition.writes

    def __iadd__(self, other: Effects) -> Effects:
        self.events += other.events
        self.calls += other.calls
        self.writes += other.writes
        self.trigger_next = self.trigger_next or other.trigger_next
        return self

    def under(self, name: str) -> Effects:
        """These effects as seen from the frame holding record `name`: event paths gain it as their first part."""
        return Effects([_in_record(event, name) for event in self.events], self.calls, self.writes,
                       self.trigger_next)


BRANCH_END_EVENTS = {"journey.succeeded": "branch.succeeded", "journey.failed": "branch.failed"}


def _in_record(event: NewEvent, name: str) -> NewEvent:
    """A step's event inside record `name`: `branch` names the record path, and a record's end is not the
    journey's."""
    inner = event.data.get("branch")
    path = f"{name}/{inner}" if isinstance(inner, str) else name
    return NewEvent(BRANCH_END_EVENTS.get(event.type, event.type), event.state, {**event.data, "branch": path})
