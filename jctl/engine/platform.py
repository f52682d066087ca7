"""The `platform` binding's `config`: values for the keys a spec declares under `spec.platform.config`.

Values come from a `--config` file (a JSON/YAML mapping) and, for keys the file lacks, from environment variables
named `JCTL_CONFIG_<key>` (JSON-decoded when the text is JSON, else the raw string). Only declared keys are
bound; a required key without a value or a value of the wrong type refuses the start, so the run fails before any
state executes, as the reference asks.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from jctl.engine.errors import InvalidInput

ENV_PREFIX = "JCTL_CONFIG_"
_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,), "object": (dict,),
}


def resolve_platform_config(
    spec: Mapping[str, Any], supplied: Mapping[str, Any] | None, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    declared = ((spec.get("platform") or {}).get("config")) or {}
    if not isinstance(declared, dict):
        return {}
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    problems: list[str] = []
    for key, declaration in declared.items():
        declaration = declaration if isinstance(declaration, dict) else {}
        value = _lookup(key, supplied or {}, environ)
        if value is _MISSING:
            if declaration.get("required"):
                problems.append(f"`{key}` is required: put it in the --config file or set {ENV_PREFIX}{key}")
            continue
        expected = declaration.get("type")
        if expected in _TYPES and not _has_type(value, expected):
            problems.append(f"`{key}` must be {expected}, got {json.dumps(value)}")
            continue
        values[key] = value
    if problems:
        raise InvalidInput("spec.platform.config is not satisfied; no instance was created", problems)
    return values


_MISSING = object()


def _lookup(key: str, supplied: Mapping[str, Any], environ: Mapping[str, str]) -> Any:
    if key in supplied:
        return supplied[key]
    raw = environ.get(ENV_PREFIX + key)
    if raw is None:
        return _MISSING
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _has_type(value: Any, expected: str) -> bool:
    if isinstance(value, bool) and expected in ("integer", "number"):
        return False
    return isinstance(value, _TYPES[expected])
