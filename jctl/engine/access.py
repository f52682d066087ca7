"""The read access guard (dsl.md 23.1): `spec.access.read.guardRef` names a local subjourney run against a deep
copy of the instance context, with the caller's inbound request; its output must say `allowed: true`, else the
read is refused exactly as if the instance did not exist."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jctl.engine.runner import Runner
    from jctl.store.models import Instance
    from jctl.tasks.request import InboundRequest


def guard_ref(instance: Instance) -> str | None:
    spec = instance.definition.get("spec") or {}
    access = spec.get("access")
    read = access.get("read") if isinstance(access, dict) else None
    found = read.get("guardRef") if isinstance(read, dict) else None
    return str(found) if found else None


def read_allowed(runner: Runner, instance: Instance, request: InboundRequest | None) -> bool:
    """Whether the guard lets this request read the instance (True when the journey declares no guard)."""
    ref = guard_ref(instance)
    if ref is None:
        return True
    graph: Any = ((instance.definition.get("spec") or {}).get("subjourneys") or {}).get(ref)
    if not isinstance(graph, dict):
        return False  # validation rejects an unknown guardRef; a stored one that no longer resolves denies
    from jctl.engine.parallel import new_record
    from jctl.engine.transitions import StateError

    record = new_record("guard", graph.get("start"), copy.deepcopy(instance.context))
    runner.request = request
    try:
        interp = runner._interpreter(instance, runner._http_client(instance, {}))
        interp.executor.parallel.advance(record, graph.get("states") or {})
    except StateError:
        return False  # a guard that fails denies
    finally:
        runner.request = None
    output = record["output"]  # a guard that pauses never finished: it denies too
    return record["phase"] == "SUCCEEDED" and isinstance(output, dict) and output.get("allowed") is True
