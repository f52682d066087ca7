"""The server's single engine thread: one Store and one Runner live on it (SQLite connections stay on the thread
that opened them) and every request and tick runs there in turn, so a start and its Idempotency-Key record, or a
step and its replay, never race inside the server. Other processes (`jctl worker`, `tick`) stay safe through the
store's leases."""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from jctl.engine.runner import Runner
    from jctl.secrets import Secrets

T = TypeVar("T")


@dataclass
class ServeSettings:
    folders: list[Path]
    db: Path
    mocks: dict[str, Any] | None = None
    simulated_clock: bool = False
    retention: timedelta = timedelta(days=7)
    tick_interval_s: float = 0.2
    purge_every_ticks: int = 50  # retention purge cadence, in ticks
    max_body_bytes: int | None = None  # None: twice the input limit (room for a body's whitespace), see body_limit
    extra: dict[str, Any] = field(default_factory=dict)
    # as `jctl serve` read them at start-up; None: JCTL_SECRETS / JCTL_PLUGIN_CONFIG, read when first needed
    secrets: Secrets | None = None
    plugin_config: tuple[dict[str, Any], Path | None] | None = None


class EngineThread:
    def __init__(self, settings: ServeSettings):
        self.settings = settings
        self.stopping = threading.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="jctl-engine")
        self._runner: Runner | None = None

    @functools.cached_property
    def secrets(self) -> Secrets:
        """The secret values the runner uses, and every answer built outside it blanks out."""
        from jctl.secrets import load_secrets

        return self.settings.secrets if self.settings.secrets is not None else load_secrets(None)

    def _open(self) -> Runner:
        if self._runner is None:
            from jctl.engine.runner import Runner
            from jctl.store import Store
            from jctl.tasks.plugins import load_plugin_config

            plugin_config = self.settings.plugin_config
            self._runner = Runner(Store.open(self.settings.db), should_stop=self.stopping.is_set,
                                  secrets=self.secrets,
                                  plugin_config=load_plugin_config(None) if plugin_config is None else plugin_config)
        return self._runner

    async def call(self, work: Callable[[Runner], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, lambda: work(self._open()))

    def close(self) -> None:
        """Let the transition in progress commit, then close the store (graceful shutdown)."""
        self.stopping.set()

        def shut() -> None:
            if self._runner is not None:
                self._runner.close()
                self._runner.store.close()
                self._runner = None

        self._executor.submit(shut)
        self._executor.shutdown(wait=True)
