"""cache:v1 (dsl.md 15): one store-backed cache shared by every journey of the store. Entries expire on the
simulated clock; a put is committed with its transition."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from jctl.store.models import CachePut
from jctl.tasks.plugins import Issue, PluginError, TaskCall, TaskOutcome

DEFAULT_TTL_SECONDS = 300


class Cache:
    kind = "cache:v1"

    def check(self, task: dict[str, Any], spec_path: Path | None) -> Iterator[Issue]:
        return iter(())  # operation/resultVar/value/ttlSeconds rules are all in the JSON Schema

    def run(self, call: TaskCall) -> TaskOutcome:
        task = call.task
        key = _key_text(call.evaluate(task.get("key"), "task.key"))
        if task.get("operation") == "get":
            found, value = call.cache_get(key)
            context = {**call.context, str(task["resultVar"]): value if found else None}
            return TaskOutcome(context, record={"cache": {"operation": "get", "key": key, "hit": found}})
        if task.get("operation") != "put":
            raise PluginError("INVALID_SPEC", f"cache:v1 operation must be get or put, not {task.get('operation')!r}")
        value = call.evaluate(task.get("value"), "task.value")
        ttl = task.get("ttlSeconds", DEFAULT_TTL_SECONDS)
        if not isinstance(ttl, int) or isinstance(ttl, bool) or ttl < 1:
            raise PluginError("INVALID_SPEC", f"cache:v1 ttlSeconds must be an integer >= 1, not {ttl!r}")
        return TaskOutcome(call.context, [CachePut(key, value, ttl)],
                           {"cache": {"operation": "put", "key": key, "ttlSeconds": ttl}})


def _key_text(value: Any) -> str:
    """The key mapper's result coerced to a string (dsl.md 15.1): strings as they are, others as compact JSON."""
    if value is None:
        raise PluginError("CACHE_KEY", "the cache key mapper returned null")
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), sort_keys=True)


PLUGIN = Cache()
