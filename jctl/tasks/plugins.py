"""The task plugin interface: every `task.kind` other than httpCall:v1 is one module exposing `PLUGIN`, an object
with the plugin's `kind`, a `check` of its configuration (for `jctl validate`) and a `run` that the engine calls
when the task state is entered. Adding a plugin is one module here, one line in PLUGIN_MODULES and its tests."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from jctl.secrets import Secrets
from jctl.store.models import CachePut, ScheduleWrite, StoreWrite

if TYPE_CHECKING:
    from jctl.tasks.request import InboundRequest

IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]*"

PLUGIN_MODULES = {
    "kafkaPublish:v1": "jctl.tasks.kafka_publish",
    "cache:v1": "jctl.tasks.cache",
    "xmlDecode:v1": "jctl.tasks.xml_decode",
    "schedule:v1": "jctl.tasks.schedule",
    "jwtValidate:v1": "jctl.tasks.jwt_validate",
    "apiKeyValidate:v1": "jctl.tasks.api_key_validate",
    "mtlsValidate:v1": "jctl.tasks.mtls_validate",
}


@dataclass
class TaskCall:
    """What a plugin gets: its state, its `task` block, a copy of the context it may change, and the seams."""

    state_id: str
    task: dict[str, Any]
    context: dict[str, Any]
    evaluate: Callable[[Any, str], Any]  # (mapper site, where) -> value
    now: Callable[[], datetime]
    cache_get: Callable[[str], tuple[bool, Any]]
    spec_path: Path | None = None
    platform: dict[str, Any] = field(default_factory=dict)  # the `platform` binding (journey name, version, run)
    active_schedules: Callable[[str, str, str | None, str], list[str]] = lambda *identity: []
    states: dict[str, Any] = field(default_factory=dict)  # the spec's top-level states
    request: InboundRequest | None = None  # the inbound request of the command driving the instance, if any
    plugin_config: dict[str, Any] = field(default_factory=dict)  # profiles etc., per plugin id
    plugin_config_dir: Path | None = None
    secrets: Secrets = field(default_factory=Secrets)


@dataclass
class TaskOutcome:
    """A completed task: the context it leaves, the store writes to commit with the transition, and what the
    history event records about it."""

    context: dict[str, Any]
    writes: list[StoreWrite] = field(default_factory=list)
    record: dict[str, Any] = field(default_factory=dict)


class PluginError(Exception):
    """The task fails: `code` and `reason` become the instance error (a Problem Details `type` when given)."""

    def __init__(self, code: str, reason: str, problem_type: str | None = None):
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.problem_type = problem_type


Issue = tuple[tuple[str | int, ...], str, str]  # (path under `task`, what is wrong, how to fix it)


class TaskPlugin(Protocol):
    kind: str

    def check(self, task: dict[str, Any], spec_path: Path | None) -> Iterator[Issue]:
        """Configuration problems the JSON Schema (specs/journey-dsl-v1.schema.json) cannot express, such as
        files a task names; the schema already checks the shape of each plugin's block."""
        ...

    def run(self, call: TaskCall) -> TaskOutcome:
        ...


def plugin_for(kind: Any) -> TaskPlugin | None:
    """The plugin registered for `kind`, or None when the local runner has none."""
    module = PLUGIN_MODULES.get(kind) if isinstance(kind, str) else None
    if module is None:
        return None
    plugin: TaskPlugin = importlib.import_module(module).PLUGIN
    return plugin


def mapped(call: TaskCall, site: Any, where: str) -> Any:
    """The value of a mapper site (`{mapper: ...}`, `{mapperRef: ...}` or `{lang, expr}`)."""
    return call.evaluate(site, where)


def load_schema_ref(ref: str, spec_path: Path | None) -> Any:
    """A JSON Schema named by a `*SchemaRef`: a JSON or YAML file relative to the spec, optionally with a
    `#/json/pointer` into it."""
    from jctl.spec.loader import load_document

    file_part, _, pointer = ref.partition("#")
    if not file_part:
        raise PluginError("INVALID_SPEC", f"schema reference {ref!r} names no file")
    base = spec_path.parent if spec_path is not None else Path.cwd()
    target = (base / file_part).resolve()
    try:
        value: Any = load_document(target).data
    except Exception as exc:  # unreadable or unparsable: the task cannot validate, so it fails with why
        raise PluginError("INVALID_SPEC", f"schema reference {ref!r}: cannot read {target}: {exc}") from None
    for part in [p for p in pointer.split("/") if p]:
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(value, dict) or part not in value:
            raise PluginError("INVALID_SPEC", f"schema reference {ref!r}: {pointer} is not in {target.name}")
        value = value[part]
    return value


CacheGet = Callable[[str], tuple[bool, Any]]
ActiveSchedules = Callable[[str, str, str | None, str], list[str]]


def with_unsaved(unsaved: list[StoreWrite], cache_get: CacheGet,
                 active_schedules: ActiveSchedules) -> tuple[CacheGet, ActiveSchedules]:
    """The store reads a task makes, seeing the writes made earlier in the same, not yet committed, transition
    (branch steps share their owner's transition): the latest unsaved put of a key, unsaved schedule bindings."""
    import copy

    def get(key: str) -> tuple[bool, Any]:
        for write in reversed(unsaved):
            if isinstance(write, CachePut) and write.key == key:
                return True, copy.deepcopy(write.value)
        return cache_get(key)

    def schedules(name: str, version: str, subject: str | None, start: str) -> list[str]:
        pending = [f"(uncommitted binding {index})" for index, write in enumerate(unsaved)
                   if isinstance(write, ScheduleWrite) and (write.journey_name, write.journey_version,
                                                            write.subject_id, write.start_state)
                   == (name, version, subject, start)]
        return [*active_schedules(name, version, subject, start), *pending]

    return get, schedules


@dataclass
class PluginEnvironment:
    """What the runner gives plugins beyond the instance: the inbound request of the driving command, the
    plugin config file (profiles per plugin id) and the local secrets."""

    request: InboundRequest | None = None
    config: dict[str, Any] = field(default_factory=dict)
    config_dir: Path | None = None
    secrets: Secrets = field(default_factory=Secrets)


def load_plugin_config(path: Path | None) -> tuple[dict[str, Any], Path | None]:
    """The plugin config file given, else JCTL_PLUGIN_CONFIG, else none: a YAML mapping of plugin id (jwtValidate,
    apiKeyValidate, mtlsValidate) to its settings; a bad file is a usage error."""
    import os

    if path is None:
        configured = os.environ.get("JCTL_PLUGIN_CONFIG", "").strip()
        if not configured:
            return {}, None
        path = Path(configured).expanduser()
    import yaml

    from jctl.errors import UsageError

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read plugin config {path}: {getattr(exc, 'strerror', None) or exc}") from None
    except yaml.YAMLError as exc:
        raise UsageError(f"{path}: the plugin config is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: the plugin config is a mapping of plugin id to settings, "
                         f"for example `jwtValidate: {{profiles: {{default: {{...}}}}}}`")
    return data, path.resolve().parent
