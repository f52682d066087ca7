"""What the DSL accepts and the local runner does not do yet: one table, checked before each state runs.

A construct in `NOT_SUPPORTED` fails the instance with NOT_SUPPORTED naming it, instead of being accepted and
silently ignored. Paths: `spec.<a>.<b>` is a block of the spec (present when the key exists, null or not);
`task.<field>` is a field of a task state's `task`; `task.kind=<kind>` is a task plugin; `<type>.<a>.<b>` is a field
of that state type's block (`wait.channel`). Implementing a construct = deleting its line here.
"""

from __future__ import annotations

from typing import Any

NOT_SUPPORTED: dict[str, str] = {}


def unsupported_in(spec: dict[str, Any], state: dict[str, Any]) -> str | None:
    """The constructs of the spec and of this state that the runner does not implement, as one message."""
    found = [f"{path} ({description})" for path, description in NOT_SUPPORTED.items() if _present(path, spec, state)]
    if not found:
        return None
    return (f"not supported by the local runner yet: {'; '.join(found)}; "
            f"remove {'it' if len(found) == 1 else 'them'} or run this journey on an engine that implements "
            f"{'it' if len(found) == 1 else 'them'}")


def _present(path: str, spec: dict[str, Any], state: dict[str, Any]) -> bool:
    head, _, rest = path.partition(".")
    if head == "spec":
        return _has(spec, rest.split("."))
    if state.get("type") != head:
        return False
    if "=" in rest:
        field, _, value = rest.partition("=")
        block = state.get(head)
        return isinstance(block, dict) and block.get(field) == value
    return _has(state.get(head), rest.split("."))


def _has(node: Any, keys: list[str]) -> bool:
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return True
