"""Every effect the interpreter has, injected by its driver: expressions, HTTP, the clock, the `platform` binding,
the store reads of task plugins, outbound auth and the plugin environment."""

from __future__ import annotations

import random as _random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jctl.tasks.http import HttpClient
    from jctl.tasks.outbound_auth import OutboundAuth
    from jctl.tasks.plugins import PluginEnvironment

Evaluate = Callable[[str, str, dict[str, Any]], Any]


@dataclass
class Seams:
    """Every effect the interpreter has: expressions, HTTP, the clock, and the `platform` binding."""

    evaluate: Evaluate
    http_client: HttpClient  # bound to the real or the mock transport
    now: Callable[[], datetime]
    platform: dict[str, Any] = field(default_factory=dict)
    bindings: dict[str, Any] = field(default_factory=dict)  # extra read-only bindings, e.g. a compensation's outcome
    random: Callable[[str], float] = field(default=lambda key: _random.random())  # [0, 1) for a key; --seed fixes it
    cache_get: Callable[[str], tuple[bool, Any]] = lambda key: (False, None)  # cache:v1 reads (store-backed)
    # schedule:v1 onExisting: ids of the ACTIVE bindings with an identity (journey, version, subject, start)
    active_schedules: Callable[[str, str, str | None, str], list[str]] = lambda *identity: []
    http_auth: OutboundAuth | None = None  # auth.policyRef of HTTP tasks (dsl.md 19), with the local secrets
    plugin_env: PluginEnvironment | None = None  # inbound request, plugin config and secrets for task plugins
