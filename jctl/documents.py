"""The JSON documents of instance summaries and history events as every driver shows them (the CLI's JSON output,
`jctl serve`'s list and history routes, the local target), so `--target` prints what a local command does."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jctl.secrets import Secrets
    from jctl.store import Event, Instance, InstanceSummary, Store


def summary_of(instance: Instance) -> InstanceSummary:
    """What a listing shows of a whole instance (one a remote target sent)."""
    from jctl.clock import to_epoch_ms
    from jctl.store import InstanceSummary

    assert instance.created_at is not None and instance.updated_at is not None  # a stored instance has both
    return InstanceSummary(instance.id, instance.journey_name, instance.phase, instance.current_state,
                           to_epoch_ms(instance.created_at), to_epoch_ms(instance.updated_at), instance.error)


def instance_summary(instance: InstanceSummary) -> dict[str, Any]:
    from jctl.clock import format_epoch_ms

    return {
        "journeyId": instance.id,
        "journeyName": instance.journey_name,
        "phase": instance.phase,
        "currentState": instance.current_state,
        "createdAt": format_epoch_ms(instance.created_ms),
        "updatedAt": format_epoch_ms(instance.updated_ms),
        "error": instance.error,
    }


def event_document(event: Event) -> dict[str, Any]:
    from jctl.clock import format_rfc3339

    return {"seq": event.seq, "at": format_rfc3339(event.at), "type": event.type, "state": event.state,
            "data": event.data}


def shown_history_of(store: Store, instance_id: str, secrets: Secrets | None = None) -> list[Event]:
    """The history of an instance as every driver shows it: secret-marked fields masked (jctl.masking), local
    secret values blanked out. The definition is read alone, so the history of a damaged row is still shown."""
    from dataclasses import replace

    from jctl.masking import shown_history

    definition = store.definition_of(instance_id)
    events = shown_history(store.history(instance_id), definition)
    if secrets is None or not secrets.values:
        return events
    return [replace(event, data=secrets.scrubbed(event.data)) for event in events]
