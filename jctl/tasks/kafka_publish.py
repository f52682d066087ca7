"""kafkaPublish:v1 (dsl.md 5.2): the record goes to the store's outbox in the commit of the transition, so a
journey never publishes a step it did not take; `jctl outbox` shows what was published."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from jctl.store.models import OutboxRecord
from jctl.tasks.plugins import Issue, PluginError, TaskCall, TaskOutcome, load_schema_ref


class KafkaPublish:
    kind = "kafkaPublish:v1"

    def check(self, task: dict[str, Any], spec_path: Path | None) -> Iterator[Issue]:
        from jsonschema import Draft202012Validator
        from jsonschema.exceptions import SchemaError

        for name in ("keySchemaRef", "valueSchemaRef"):
            ref = task.get(name)
            if not isinstance(ref, str) or not ref.strip():
                continue  # the JSON Schema reports a missing or empty reference
            try:
                Draft202012Validator.check_schema(load_schema_ref(ref, spec_path))
            except PluginError as exc:
                yield (name,), exc.reason, "point it at a JSON or YAML file relative to the spec, optionally #/pointer"
            except SchemaError as exc:
                yield (name,), f"{ref} is not a valid JSON Schema: {exc.message}", "fix the schema file"

    def run(self, call: TaskCall) -> TaskOutcome:
        from jctl.payload_schema import schema_violations
        from jctl.tasks.http import TaskError, interpolate

        task = call.task
        topic = task.get("topic")
        if not isinstance(topic, str) or not topic.strip():
            raise PluginError("INVALID_SPEC", "kafkaPublish:v1 needs a non-empty `topic`")
        value = call.evaluate(task.get("value"), "task.value")
        try:
            key = self._key(call, task.get("key"))
            headers = {str(name): interpolate(str(text), call.context)
                       for name, text in (task.get("headers") or {}).items()}
        except TaskError as exc:
            raise PluginError("TASK_ERROR", str(exc)) from None
        for name, checked in (("valueSchemaRef", value), ("keySchemaRef", key)):
            if isinstance(task.get(name), str):
                violations = schema_violations(load_schema_ref(task[name], call.spec_path), checked)
                if violations:
                    raise PluginError("SCHEMA_VIOLATION", f"the record {name.removesuffix('SchemaRef')} does not "
                                      f"match {task[name]}: " + "; ".join(violations[:5]))
        record = OutboxRecord(topic, value, key, headers, call.state_id)
        return TaskOutcome(call.context, [record], {"published": {"topic": topic, "key": key}})

    @staticmethod
    def _key(call: TaskCall, key: Any) -> str | None:
        from jctl.tasks.http import interpolate

        if key is None:
            return None
        if isinstance(key, str):
            return interpolate(key, call.context)
        computed = call.evaluate(key, "task.key")
        return computed if isinstance(computed, str) or computed is None else _as_text(computed)


def _as_text(value: Any) -> str:
    import json

    return json.dumps(value, separators=(",", ":"), sort_keys=True)


PLUGIN = KafkaPublish()
