"""The engine's bookkeeping inside `Instance.cursor`: specPath, startedAt, platformConfig, mockCounters, `paused`
(wait | webhook | timer | parallel | None) and, while a parallel is paused, `parallel: {state, branches}`.

Kept free of heavier imports: `jctl status` reads the cursor through this module alone.
"""

from __future__ import annotations

from typing import Any

INPUT_STATES = ("wait", "webhook")  # the pausing states that take a signal


def paused_input_steps(cursor: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(branch, state id, wait|webhook) for each branch of a paused parallel waiting at an external-input state."""
    branches = (cursor.get("parallel") or {}).get("branches") or []
    return [(r["name"], r["current"], r["paused"]) for r in branches
            if r.get("phase") == "RUNNING" and r.get("paused") in INPUT_STATES]


def unpaused_cursor(cursor: dict[str, Any]) -> dict[str, Any]:
    """The cursor with no pause and no parallel bookkeeping left."""
    return {**{k: v for k, v in cursor.items() if k != "parallel"}, "paused": None}
