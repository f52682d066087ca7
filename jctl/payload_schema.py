"""Checking a payload, an input or a message against the JSON Schema a journey gives it: a compiled validator says
yes fast, `jsonschema` explains a no in the words users read."""

from __future__ import annotations

import functools
import json
from typing import Any


def schema_violations(schema: Any, value: Any) -> list[str]:
    """`path: message` for each way `value` breaks a JSON Schema (none when there is no schema)."""
    if not isinstance(schema, dict) or _conforms(schema, value):
        return []
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(schema)
    found = []
    for error in sorted(validator.iter_errors(value), key=lambda e: [str(p) for p in e.absolute_path]):
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        found.append(f"{where}: {_shown_message(error)}")
    return found


def _shown_message(error: Any) -> str:
    """jsonschema quotes the offending value; not for a field its schema marks secret (writeOnly, format:
    password: jctl.masking), whose message names only the rule it breaks."""
    schema = error.schema if isinstance(error.schema, dict) else {}
    if schema.get("writeOnly") is True or schema.get("format") == "password":
        return f"the value (not shown: the schema marks it secret) does not satisfy {error.validator}: " \
               f"{json.dumps(error.validator_value, default=str)}"
    return str(error.message)


def _conforms(schema: dict[str, Any], value: Any) -> bool:
    """The compiled validator's yes, which costs a fraction of importing `jsonschema`; that one is asked only to
    explain a no (its messages are the ones users read), or when the compiled one cannot take the schema."""
    import jsonschema_rs

    try:
        return bool(_compiled(schema).is_valid(value))
    except (ValueError, TypeError, jsonschema_rs.ValidationError):
        return False


def _compiled(schema: dict[str, Any]) -> Any:
    """The compiled validator of `schema`, built once per content: keyed by the schema's pickled bytes (equal bytes
    are an equal schema, so an edited schema is another key), which cost a tenth of compiling it again."""
    import pickle

    import jsonschema_rs

    try:
        key = pickle.dumps(schema, pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError, RecursionError):
        return jsonschema_rs.Draft202012Validator(schema)
    return _validator_of_bytes(key)


@functools.lru_cache(maxsize=256)
def _validator_of_bytes(schema_bytes: bytes) -> Any:
    import pickle

    import jsonschema_rs

    return jsonschema_rs.Draft202012Validator(pickle.loads(schema_bytes))
