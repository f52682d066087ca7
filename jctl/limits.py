"""Bounded instance data, applied the same way by every driver (CLI, `jctl serve`, the Temporal worker): the size
of start inputs and step payloads, of an HTTP response body kept in a result, of the context after a transition,
and the number of history events per instance. Defaults follow Temporal's payload limits; see README "Limits"."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from jctl.errors import UsageError

MIB = 1024 * 1024
WARN_FRACTION = 4  # a value over a quarter of its limit is warned about
_SIZE = re.compile(r"^\s*(\d+)\s*(b|kb|kib|mb|mib|gb|gib)?\s*$", re.IGNORECASE)
_UNITS = {None: 1, "b": 1, "kb": 1024, "kib": 1024, "mb": MIB, "mib": MIB, "gb": 1024 * MIB, "gib": 1024 * MIB}


class LimitExceeded(UsageError):
    """A value at the edge (input, payload) is over its limit: refused before anything is stored (exit 2, 400)."""

    def __init__(self, message: str, limit: str):
        super().__init__(message)
        self.limit = limit


@dataclass(frozen=True)
class Limits:
    """Each field is configurable as `[tool.jctl.limits] <name-with-dashes>` or `JCTL_LIMIT_<NAME>`."""

    input: int = 2 * MIB  # start input and step payload, as JSON bytes
    http_body: int = 2 * MIB  # an HTTP response body kept in a task result
    context: int = 4 * MIB  # the instance context after any transition, as JSON bytes
    history_events: int = 50_000  # history events per instance

    @classmethod
    def load(cls, start: Path | None = None) -> Limits:
        """Defaults, then the nearest config file's `limits` table, then `JCTL_LIMIT_<NAME>` variables."""
        limits = cls()
        table, source = _config_table(start)
        known = {field.name.replace("_", "-"): field.name for field in fields(cls)}
        for key, value in table.items():
            if key not in known:
                raise _usage(f"{source}: unknown limit `{key}` in [limits]; known: {', '.join(sorted(known))}")
            limits = replace(limits, **{known[key]: parse_size(value, f"{source}: limits.{key}")})
        for name in known.values():
            value = os.environ.get(f"JCTL_LIMIT_{name.upper()}")
            if value is not None and value.strip():
                limits = replace(limits, **{name: parse_size(value, f"JCTL_LIMIT_{name.upper()}")})
        return limits

    def check_edge(self, value: Any, what: str) -> int:
        """The JSON size of a start input or step payload; LimitExceeded when over `input`."""
        size = json_size(value)
        if size > self.input:
            raise LimitExceeded(over_message(what, size, self.input, "input"), "input")
        return size


def json_size(value: Any) -> int:
    text = _COMPACT.encode(value)
    return len(text) if text.isascii() else len(text.encode("utf-8"))  # isascii: a flag CPython keeps


# json.dumps with these options builds an encoder every call; a transition measures its context with this one
_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str)


def over_message(what: str, size: int, limit: int, name: str) -> str:
    return (f"{what} is {human(size)}, over the {name} limit of {human(limit)}; raise it with "
            f"JCTL_LIMIT_{name.upper().replace('-', '_')} or `{name.replace('_', '-')} = ...` under "
            f"[tool.jctl.limits] (pyproject.toml) or [limits] (.jctl.toml)")


def warning_message(what: str, size: int, limit: int, name: str) -> str:
    return f"{what} is {human(size)}, over a quarter of the {name} limit ({human(limit)})"


def human(size: int) -> str:
    if size >= MIB:
        return f"{size / MIB:.1f} MiB ({size} bytes)"
    if size >= 1024:
        return f"{size / 1024:.1f} KiB ({size} bytes)"
    return f"{size} bytes"


def parse_size(value: object, where: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    found = _SIZE.match(value) if isinstance(value, str) else None
    if found is None or int(found.group(1)) <= 0:
        raise _usage(f"{where}: {value!r} is not a positive size; write bytes (2097152) or with a unit (2MB, 512KB)")
    return int(found.group(1)) * _UNITS[(found.group(2) or "").lower() or None]


def _config_table(start: Path | None) -> tuple[dict[str, Any], str]:
    from jctl.config import find_config

    path = find_config(start)
    if path is None:
        return {}, ""
    import tomllib

    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise _usage(f"cannot read configuration {path}: {exc}") from None
    table = document.get("tool", {}).get("jctl", {}) if path.name == "pyproject.toml" else document
    limits = table.get("limits", {})
    if not isinstance(limits, dict):
        raise _usage(f"{path}: `limits` must be a table of name = size")
    return limits, str(path)


def _usage(message: str) -> Exception:
    return UsageError(message)
