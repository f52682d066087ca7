"""HTTP resilience (dsl.md 13, 2.3): which policy a task uses, whether a result may be retried, and how long the
backoff before the next attempt is. The wait itself is due work of kind `retry` on the simulated clock, so
`clock advance` drives it and a killed process resumes mid-backoff; every attempt is recorded in the history."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from jctl.engine.transitions import Snapshot, Transition
from jctl.store.models import NewDueWork, NewEvent

if TYPE_CHECKING:
    from jctl.engine.seams import Seams

DEFAULT_RETRY_ON = ("NETWORK_ERROR", "TIMEOUT", "HTTP_5XX")
DEFAULT_BASE_DELAY_MS = 100


def resolve_policy(task: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any] | None:
    """The task's policy: `task.resiliencePolicyRef`, then `spec.defaults.tasks.resiliencePolicyRef`, then
    `spec.policies.httpResilience.default`; None when none applies or it allows a single attempt."""
    resilience = (spec.get("policies") or {}).get("httpResilience") or {}
    defaults = (spec.get("defaults") or {}).get("tasks") or {}
    ref = task.get("resiliencePolicyRef") or defaults.get("resiliencePolicyRef") or resilience.get("default")
    policy = (resilience.get("definitions") or {}).get(ref) if ref else None
    if not isinstance(policy, dict) or _int(policy.get("maxAttempts"), 1) <= 1:
        return None
    return {"id": str(ref), **policy}


def condition_of(result: dict[str, Any]) -> str | None:
    """The retryOn condition an HTTP result meets (None for a success or a non-retryable status)."""
    error_type = (result.get("error") or {}).get("type") if isinstance(result.get("error"), dict) else None
    if error_type == "TIMEOUT":
        return "TIMEOUT"
    if error_type == "NETWORK":
        return "NETWORK_ERROR"
    status = result.get("status")
    if isinstance(status, int) and 500 <= status <= 599:
        return "HTTP_5XX"
    if status == 429:
        return "HTTP_429"
    return None


def should_retry(policy: dict[str, Any], result: dict[str, Any], attempt: int) -> bool:
    """Whether attempt number `attempt` (1-based) earns another one under `policy`."""
    condition = condition_of(result)
    retry_on = policy.get("retryOn") or DEFAULT_RETRY_ON
    return condition is not None and condition in retry_on and attempt < _int(policy.get("maxAttempts"), 1)


def backoff_ms(policy: dict[str, Any], attempt: int, random: Callable[[], float]) -> int:
    """The delay before attempt `attempt + 1`: fixed or exponential from baseDelayMs, capped by maxDelayMs, with
    `jitter: full` a uniform draw between 0 and that delay (`random` is seeded by --seed)."""
    backoff = policy.get("backoff") or {}
    base = _int(backoff.get("baseDelayMs"), DEFAULT_BASE_DELAY_MS)
    delay = base if backoff.get("kind") == "fixed" else base * 2 ** min(attempt - 1, 40)
    if "maxDelayMs" in backoff:
        delay = min(delay, _int(backoff.get("maxDelayMs"), delay))
    if backoff.get("jitter") == "full":
        delay = int(delay * random())
    return max(delay, 0)


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def attempt_of(snap: Snapshot, state_id: str) -> int:
    """The 1-based attempt a task state is making: the cursor keeps the count across the backoff pause."""
    retry = snap.cursor.get("retry") or {}
    return int(retry.get("attempt", 1)) if retry.get("state") == state_id else 1


def plan_retry(spec: dict[str, Any], seams: Seams, state_id: str, task: dict[str, Any], snap: Snapshot,
               result: dict[str, Any], record: dict[str, Any]) -> Transition | None:
    """A pause until the next attempt when the task's policy retries this result; None to go on with it.
    Numbers the attempt in its HTTP record either way."""
    policy = resolve_policy(task, spec)
    if policy is None:
        return None
    attempt = attempt_of(snap, state_id)
    record["attempt"] = attempt
    if not should_retry(policy, result, attempt):
        return None
    from jctl.clock import format_rfc3339, later

    delay = backoff_ms(policy, attempt, lambda: seams.random(f"{state_id}:{attempt}"))
    due = later(seams.now(), timedelta(milliseconds=delay))
    cursor = {**snap.cursor, "paused": "retry", "retry": {"state": state_id, "attempt": attempt + 1}}
    event = NewEvent("task.retrying", state_id, {"http": record, "attempt": attempt, "policy": policy["id"],
                                                  "condition": condition_of(result), "delayMs": delay,
                                                  "dueAt": format_rfc3339(due)})
    return Transition(replace(snap, cursor=cursor), [event], [NewDueWork("retry", due, state_id)], halts=True)


def without_retry(snap: Snapshot) -> Snapshot:
    """The snapshot once a task is done with its attempts."""
    return replace(snap, cursor={k: v for k, v in snap.cursor.items() if k != "retry"})
