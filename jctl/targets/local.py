"""The local target: the store file and the Runner, as the CLI uses them without --target."""

from __future__ import annotations

import builtins

from pathlib import Path
from typing import Any


class LocalTarget:
    def __init__(self, db: Path | None):
        from jctl.cli import views

        self._runner = views.open_runner(db)
        self._store = views.open_store(db)

    def start(self, definition: Path, input: Any, *, idempotency_key: str | None = None) -> dict[str, Any]:
        return self._runner.start(definition, input, mocks=None, detach=False, auto_advance=False)

    def signal(self, journey_id: str, payload: Any, *, step: str | None = None,
               idempotency_key: str | None = None) -> dict[str, Any]:
        return self._runner.signal(journey_id, payload, step=step, idempotency_key=idempotency_key)

    def status(self, journey_id: str) -> dict[str, Any]:
        from jctl.cli.views import guarded
        from jctl.engine.envelopes import envelope

        return envelope(guarded(lambda: self._store.get_instance(journey_id)))

    def list(self, *, phase: str | None = None, journey: str | None = None, limit: int = 50) -> builtins.list[dict[str, Any]]:
        from jctl.cli.views import guarded
        from jctl.documents import instance_summary

        found = guarded(lambda: list(self._store.instance_summaries(phase=phase, journey=journey, limit=limit)))
        return [instance_summary(summary) for summary in found]

    def history(self, journey_id: str) -> builtins.list[dict[str, Any]]:
        from jctl.cli.views import guarded
        from jctl.documents import event_document, shown_history_of

        return [event_document(event) for event in guarded(lambda: shown_history_of(self._store, journey_id))]

    def cancel(self, journey_id: str) -> dict[str, Any]:
        return self._runner.cancel(journey_id)

    def close(self) -> None:
        self._store.close()
