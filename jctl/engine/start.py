"""Everything checked and built before a new instance exists: the linted definition, the start input, the mocks,
the platform config, and the instance with its first history event and due work."""

from __future__ import annotations

import copy
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jctl.clock import later
from jctl.engine.errors import InvalidInput, InvalidSpec
from jctl.fs import descriptor_path
from jctl.payload_schema import schema_violations
from jctl.store.models import Instance, NewDueWork, NewEvent, new_instance_id

if TYPE_CHECKING:
    from jctl.checks import Workspace


@dataclass
class StartPlan:
    """A new instance ready to be stored, with what it is created with."""

    instance: Instance
    events: list[NewEvent]
    due: list[NewDueWork]


def plan_start(definition_path: Path, input: Any, *, mocks: dict[str, Any] | None,
               supplied_config: dict[str, Any], now: datetime, detach: bool,
               headers: Mapping[str, str] | None = None) -> StartPlan:
    """Check everything a start needs (raising before anything is stored) and build the new instance."""
    from jctl.engine.platform import resolve_platform_config

    resolved, definition = _definition(definition_path)  # shared with the other starts of this spec: read only
    spec = definition.get("spec") or {}
    _check_input(spec, input)
    instance = _new_instance(definition_path, resolved, definition, input, _checked_mocks(mocks), now)
    instance.tags, instance.attributes = _start_metadata(definition, input, headers)
    instance.cursor["platformConfig"] = resolve_platform_config(spec, supplied_config)  # later triggers reuse it
    due = [NewDueWork("run", now, spec.get("start"))]
    max_duration = (spec.get("execution") or {}).get("maxDurationSec")
    if max_duration:
        try:
            due.append(NewDueWork("deadline", later(now, int(max_duration))))
        except ValueError as exc:
            raise InvalidSpec(f"spec.execution.maxDurationSec {max_duration}: {exc}") from None
    event = NewEvent("journey.started", spec.get("start"), {"input": input, "detached": detach})
    return StartPlan(instance, [event], due)


def load_definition(path: Path) -> dict[str, Any]:
    """Lint the spec (refusing error diagnostics; a spec that linted clean unchanged is not linted again) and
    return its data (a private copy: callers may change what they get)."""
    import pickle

    copied: dict[str, Any] = pickle.loads(pickle.dumps(_definition(path)[1], pickle.HIGHEST_PROTOCOL))
    return copied


def _definition(path: Path) -> tuple[str, dict[str, Any]]:
    """The spec's resolved path and its data, linted as `load_definition` says. The data of unchanged bytes at one
    path is the same object for every start of this process: nothing may change it in place (the engine and the
    store never do; the store knows its hash by its identity)."""
    from jctl import lint_cache
    from jctl.errors import UsageError

    key = _spec_key(path)
    if key is None:  # a mistyped path is a usage error (exit 2), as for `jctl validate`
        problem = "not a regular file" if path.exists() else "no such file or directory"
        raise UsageError(f"{problem}: {path}", hint="pass the path of a .journey.yaml file")
    resolved, spec_bytes = key
    clean = lint_cache.linted_clean(path, spec_bytes or None, resolved=resolved)
    if clean and (known := _PARSED.get(key)) is not None:
        return resolved, known
    return resolved, _parsed(path, key, clean)


def _parsed(path: Path, key: tuple[str, bytes], clean: bool) -> dict[str, Any]:
    """Lint (unless `clean`) and parse the spec; the linter's loaded document is the one we run: the file is read
    and parsed once."""
    from jctl import lint_cache
    from jctl.checks import Workspace
    from jctl.spec.loader import LoadError

    resolved, spec_bytes = key
    workspace = Workspace()
    if not clean:
        _refuse_errors(path, workspace)
        lint_cache.remember_clean(path, workspace.loaded_paths(), spec_bytes or None, resolved=resolved)
    loaded = workspace.load(path)
    if isinstance(loaded, LoadError):
        raise InvalidSpec(f"cannot load {path}: {loaded}")
    data = loaded.data
    if not isinstance(data, dict) or not isinstance((data.get("spec") or {}).get("states"), dict):
        raise InvalidSpec(f"{path} is not a journey spec (spec.states is missing)")
    if spec_bytes and loaded.text.encode() == spec_bytes:  # the bytes parsed are the bytes keyed
        if len(_PARSED) >= _MAX_PARSED:
            _PARSED.clear()
        _PARSED[key] = data
    return data


# Specs this process has parsed, by resolved path and bytes: a process starting many instances of one spec parses
# it once (the lint verdict is still asked of the lint cache every time).
_PARSED: dict[tuple[str, bytes], dict[str, Any]] = {}
_MAX_PARSED = 32


def _spec_key(path: Path) -> tuple[str, bytes] | None:
    """The spec's resolved path and bytes, read through one open of the file; None when it is not a regular file.
    Linux names the file the descriptor holds (/proc/self/fd: the kernel's own resolution, at a tenth of the cost
    of os.path.realpath's lstat per component); elsewhere, realpath."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError:  # a file that cannot be opened is linted and loaded like any other, which says why
        return (os.path.realpath(path), b"") if path.is_file() else None
    try:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode):
            return None
        with open(descriptor, "rb", closefd=False) as file:  # the descriptor is closed below
            content = file.read()
        return descriptor_path(descriptor) or os.path.realpath(path), content
    except OSError:
        return os.path.realpath(path), b""
    finally:
        os.close(descriptor)


def _refuse_errors(path: Path, workspace: Workspace) -> None:
    from jctl.diagnostics import Severity
    from jctl.lint import lint_file

    errors = [d for d in lint_file(path, workspace) if d.severity == Severity.ERROR]
    if errors:
        raise InvalidSpec(f"{path} has {len(errors)} error(s); fix them before running it "
                          f"(`jctl validate {path}` shows them)", errors)


def _check_input(spec: dict[str, Any], input: Any) -> None:
    if not isinstance(input, dict):
        raise InvalidInput("the input must be a JSON object (it becomes the journey's context); "
                           "no instance was created", [f"got {type(input).__name__}"])
    violations = schema_violations((spec.get("input") or {}).get("schema"), input)
    if violations:
        raise InvalidInput("the input does not match spec.input.schema; no instance was created", violations)


def _start_metadata(definition: dict[str, Any], input: dict[str, Any],
                    headers: Mapping[str, str] | None) -> tuple[list[str], dict[str, str]]:
    from jctl.engine.metadata import MetadataError, start_metadata

    try:
        return start_metadata(definition, input, headers)
    except MetadataError as exc:
        raise InvalidInput(f"the start would exceed the metadata limits; no instance was created: {exc}",
                           [str(exc)]) from None


def _checked_mocks(mocks: dict[str, Any] | None) -> dict[str, Any] | None:
    from jctl.tasks.mocks import MockError, validate_mocks

    if mocks is None:
        return None
    try:
        return validate_mocks(mocks)
    except MockError as exc:
        raise InvalidInput(f"the mocks are not valid: {exc}", [str(exc)]) from None


def _new_instance(path: Path, resolved: str, definition: dict[str, Any], input: dict[str, Any],
                  mocks: dict[str, Any] | None, now: datetime) -> Instance:
    from jctl.clock import format_rfc3339

    metadata = definition.get("metadata") or {}
    cursor: dict[str, Any] = {"specPath": resolved, "paused": None, "mockCounters": {},
                              "startedAt": format_rfc3339(now)}
    return Instance(id=new_instance_id(), journey_name=str(metadata.get("name", path.stem)),
                    kind=str(definition.get("kind", "Journey")), definition=definition, phase="RUNNING",
                    current_state=(definition.get("spec") or {}).get("start"), cursor=cursor,
                    context=copy.deepcopy(input), tags=list(metadata.get("tags") or []), mocks=mocks)
