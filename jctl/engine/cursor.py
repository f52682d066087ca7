"""The engine's bookkeeping inside `Instance.cursor`: specPath, startedAt, platformConfig, mockCounters, `paused`
(wait | webhook | timer | parallel | subjourney | None) and, while paused inside a parallel or a subjourney, the
frame of its records under the key `parallel` or `subjourney` (see jctl.engine.parallel).

Kept free of heavier imports: `jctl status` reads the cursor through this module alone.
"""

from __future__ import annotations

from typing import Any

INPUT_STATES = ("wait", "webhook")  # the pausing states that take a signal
LEAF_PAUSES = ("wait", "webhook", "timer", "retry")  # retry: an HTTP task waiting out its backoff
FRAME_KINDS = ("parallel", "subjourney")  # composite states that keep paused records in a frame


def paused_input_steps(cursor: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(record path, state id, wait|webhook) for each record, at any depth of nested parallels and subjourneys,
    waiting at an external-input state."""
    kind = cursor.get("paused")
    frame = cursor.get(str(kind)) if kind in FRAME_KINDS else None
    return _input_steps(frame, "") if isinstance(frame, dict) else []


def _input_steps(frame: dict[str, Any], prefix: str) -> list[tuple[str, str, str]]:
    found: list[tuple[str, str, str]] = []
    for record in frame.get("branches") or []:
        if record.get("phase") != "RUNNING":
            continue
        path = f"{prefix}/{record['name']}" if prefix else str(record["name"])
        paused = record.get("paused")
        if paused in INPUT_STATES:
            found.append((path, str(record["current"]), str(paused)))
        elif paused in FRAME_KINDS and isinstance(record.get(paused), dict):
            found += _input_steps(record[paused], path)
    return found


def unpaused_cursor(cursor: dict[str, Any]) -> dict[str, Any]:
    """The cursor with no pause and no frame bookkeeping left."""
    return {**{k: v for k, v in cursor.items() if k not in FRAME_KINDS and k != "retry"}, "paused": None}
