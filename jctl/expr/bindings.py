"""Bindings for expressions: the named values (context, payload, platform, error, ...) an expression can read.

Besides the named bindings, each top-level context key becomes a bare name (`jobStart.body.jobId` reads
`context.jobStart.body.jobId`) when the key is a plain identifier (`[A-Za-z_][A-Za-z0-9_]*`), is not itself a
binding name, and is not a DataWeave reserved word, a DataWeave core function name (it would shadow it) or
`jctlOutput` (the script name of the `output` binding). The
named bindings always win; aliases are computed at evaluation time from the context actually passed.
"""

from __future__ import annotations

import hashlib
import random
import re
import uuid
from collections.abc import Container
from typing import Any

BINDING_NAMES = ("context", "payload", "platform", "error", "branches", "outcome", "output")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# Core functions an alias would shadow in DataWeave (the common ones; a shadowed call would break the expression).
_DW_CORE_NAMES = frozenset(
    "abs avg ceil contains daysBetween distinctBy endsWith entriesOf filter filterObject find flatMap flatten floor "
    "groupBy isBlank isDecimal isEmpty isEven isInteger isLeapYear isOdd joinBy keysOf log lower map mapObject "
    "match matches max maxBy min minBy mod namesOf now orderBy pluck pow random randomInt read readUrl reduce "
    "replace round scan sizeOf splitBy sqrt startsWith sum to trim typeOf unzip upper uuid valuesOf with write "
    "zip fail keys values".split()
)


def build_bindings(
    context: Any,
    payload: Any = None,
    platform: Any = None,
    error: Any = None,
    **extra: Any,
) -> dict[str, Any]:
    """The named bindings for one expression site; `extra` carries branches/outcome/output where the site has them."""
    bindings = {"context": context, "payload": payload, "platform": platform or {}, "error": error}
    for name, value in extra.items():
        if name not in BINDING_NAMES:
            raise ValueError(f"unknown binding {name!r}; expected one of {', '.join(BINDING_NAMES)}")
        bindings[name] = value
    return bindings


def context_aliases(bindings: dict[str, Any], named: Container[str] | None = None) -> list[str]:
    """The top-level context keys that are bound as bare names (see the module docstring for the rule); with `named`,
    only those among these names (the ones an expression can reference)."""
    from jctl.expr.dw_dialect import OUTPUT_NAME
    from jctl.expr.dw_guard import RESERVED_WORDS

    context = bindings.get("context")
    if not isinstance(context, dict):
        return []
    return [
        key for key in context
        if (named is None or key in named) and isinstance(key, str) and _IDENTIFIER.match(key)
        and key not in bindings and key not in BINDING_NAMES and key not in RESERVED_WORDS
        and key not in _DW_CORE_NAMES and key != OUTPUT_NAME
    ]


def with_aliases(bindings: dict[str, Any]) -> dict[str, Any]:
    """Bindings plus the bare context keys, for engines that read one document (jq, JSONata, JOLT)."""
    document = dict(bindings)
    context = bindings.get("context")
    if not isinstance(context, dict):
        return document
    for key in context_aliases(bindings):
        document[key] = context[key]
    return document


def seeded_uuid(seed: str, counter: int) -> str:
    """A version-4-shaped UUID derived from the seed and a per-evaluation counter (same seed → same sequence)."""
    digest = hashlib.sha256(f"{seed}\x00{counter}".encode()).digest()[:16]
    return str(uuid.UUID(bytes=digest, version=4))


def seeded_random(seed: str) -> float:
    return random.Random(hashlib.sha256(f"{seed}\x00random".encode()).digest()).random()
