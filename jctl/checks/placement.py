"""Known fields at the wrong level: `misplaced-field` (a key the schema rejects where it is but accepts, and needs,
one level down inside a sibling block or one level up) and `misplaced-state` (a whole state indented one level
too deep). Each is one finding in place of the schema's pair "unknown field" + "missing field"; `--fix` moves both
(jctl/fix.py)."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from typing import TYPE_CHECKING, Any, NamedTuple

from jctl.checks import SpecFile, check
from jctl.checks.dsl_schema import (
    closest,
    is_journey_document,
    load_schema,
    most_specific,
    schema_validator,
    unexpected_keys,
)
from jctl.diagnostics import DocPath, Finding, path_text
from jctl.spec.loader import LoadedDocument

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError

ErrorKey = tuple[DocPath, str, tuple[Any, ...]]


class Misplacement(NamedTuple):
    """`key` sits in the mapping at `parent` but belongs in the mapping at `target` (None: a nested state)."""

    parent: DocPath
    key: str
    target: DocPath | None
    resolved: frozenset[ErrorKey]  # the schema errors moving it makes disappear

    @property
    def path(self) -> DocPath:
        return self.parent + (self.key,)

    @property
    def moves_down(self) -> bool:
        return self.target is not None and len(self.target) > len(self.parent)


_last: tuple[LoadedDocument, list[ValidationError], list[Misplacement]] | None = None
# Validators whose message names no part of the instance, so it is the same before and after a move elsewhere
_STABLE_MESSAGES = frozenset({"required", "type", "enum", "const", "pattern", "minimum", "maximum", "minLength",
                              "minItems", "minProperties", "format"})
WHOLE_DOCUMENT_TRIALS = 2_000  # nodes up to which a key outside any state is tried by validating the whole file


def analysed(document: LoadedDocument) -> tuple[list[ValidationError], list[Misplacement]]:
    """The document's raw schema errors and misplaced keys, computed once for the schema and placement checks."""
    global _last
    if _last is None or _last[0] is not document:
        errors = list(schema_validator().iter_errors(document.data))
        small = len(document.source_map.positions) <= WHOLE_DOCUMENT_TRIALS
        _last = (document, errors, list(find_misplacements(document.data, errors, small)) if errors else [])
    return _last[1], _last[2]


def error_keys(error: ValidationError, prefix: DocPath = ()) -> set[ErrorKey]:
    """How an error is compared before and after a move (wherever it was validated from: `prefix` makes its path
    absolute): one key per unexpected field of an `additionalProperties` error, so moving one of several unknown
    fields out resolves exactly its own."""
    where = prefix + tuple(error.absolute_path)
    if error.validator == "additionalProperties":
        return {(where, f"additionalProperties:{key}", ()) for key in unexpected_keys(error)}
    detail = (str(error.message),) if error.validator in _STABLE_MESSAGES else ()
    return {(where, str(error.validator), detail)}


@cache
def state_types() -> frozenset[str]:
    return frozenset(load_schema()["$defs"]["state"]["properties"]["type"]["enum"])


@cache
def _state_validator() -> Any:
    """The journey schema's state definition on its own: a trial move is checked by validating one state."""
    return type(schema_validator())({"$ref": "#/$defs/state", "$defs": load_schema()["$defs"]})


def find_misplacements(data: Any, errors: list[ValidationError], whole_document: bool = True
                       ) -> Iterator[Misplacement]:
    """Each unknown key that one move (into a sibling block, or up a level, within its state) makes welcome."""
    units: dict[DocPath, set[ErrorKey]] = {}
    for parent, key in _unknown_keys(data, errors):
        holder = _node(data, parent)
        if _is_nested_state(parent, holder[key]):
            yield Misplacement(parent, key, None, frozenset())
            continue
        unit = _enclosing_state(parent)
        if unit is None and not whole_document:
            continue
        validator = schema_validator() if unit is None else _state_validator()
        unit = unit or ()
        if unit not in units:
            units[unit] = _keys(validator, _node(data, unit), unit)
        before = units[unit]
        moves = []
        for target in _candidate_targets(data, parent, key):
            if target[: len(unit)] != unit:
                continue  # moves stay inside the state validated
            moved = _with_key_moved(_node(data, unit), parent[len(unit):], key, target[len(unit):])
            after = _keys(validator, moved, unit)
            if after < before:
                moves.append((target, before - after))
        if not moves:
            continue
        most = max(len(resolved) for _, resolved in moves)
        best = [(target, resolved) for target, resolved in moves if len(resolved) == most]
        if len(best) == 1:  # the schema makes it unambiguous
            yield Misplacement(parent, key, best[0][0], frozenset(best[0][1]))


def _keys(validator: Any, instance: Any, prefix: DocPath) -> set[ErrorKey]:
    return {key for error in validator.iter_errors(instance) for key in error_keys(error, prefix)}


def _enclosing_state(path: DocPath) -> DocPath | None:
    for end in range(len(path), 1, -1):
        if path[end - 2] == "states" and isinstance(path[end - 1], str):
            return path[:end]
    return None


def _unknown_keys(data: Any, errors: list[ValidationError]) -> Iterator[tuple[DocPath, str]]:
    seen: set[tuple[DocPath, str]] = set()
    for error in (most_specific(error) for error in errors):
        if error.validator != "additionalProperties" or not isinstance(error.schema, dict):
            continue
        parent, allowed = tuple(error.absolute_path), list(error.schema.get("properties", {}))
        for key in unexpected_keys(error):
            if closest(key, allowed):
                continue  # a misspelling of a field allowed here (the schema rule says "did you mean")
            if (parent, key) not in seen and isinstance(_node(data, parent), dict):
                seen.add((parent, key))
                yield parent, key


def nested_states(states: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """State-shaped mappings written inside another state of `states` (what misplaced-state reports), by key."""
    return {key: value for state in states.values() if isinstance(state, dict)
            for key, value in state.items() if _is_state_shaped(value)}


def _is_nested_state(parent: DocPath, value: Any) -> bool:
    return len(parent) >= 3 and parent[-2] == "states" and _is_state_shaped(value)


def _is_state_shaped(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("type"), str) and value["type"] in state_types()


def _candidate_targets(data: Any, parent: DocPath, key: str) -> Iterator[DocPath]:
    holder = _node(data, parent)
    for sibling, value in holder.items():
        if sibling != key and isinstance(value, dict) and key not in value:
            yield parent + (sibling,)
    if parent and isinstance(parent[-1], str):
        grandparent = _node(data, parent[:-1])
        if isinstance(grandparent, dict) and key not in grandparent:
            yield parent[:-1]


def _with_key_moved(data: Any, parent: DocPath, key: str, target: DocPath) -> Any:
    value = _node(data, parent)[key]
    copy = _copy_along(data, parent)
    del _node(copy, parent)[key]
    copy = _copy_along(copy, target)
    _node(copy, target)[key] = value
    return copy


def _copy_along(data: Any, path: DocPath) -> Any:
    """A copy of `data` whose containers along `path` are new (everything else is shared)."""
    root = _shallow(data)
    node = root
    for part in path:
        child = _shallow(node[part])
        node[part] = child
        node = child
    return root


def _shallow(value: Any) -> Any:
    return dict(value) if isinstance(value, dict) else list(value) if isinstance(value, list) else value


def _node(data: Any, path: DocPath) -> Any:
    for part in path:
        data = data[part]
    return data


def belongs_message(misplacement: Misplacement) -> tuple[str, str]:
    """The finding's message and hint for a misplaced field."""
    key, target = misplacement.key, misplacement.target
    assert target is not None
    if misplacement.moves_down:
        block = str(target[-1])
        return (f"`{key}` belongs inside `{block}`, not beside it (`{path_text((*target, key))}`)",
                f"indent `{key}` under `{block}:`; `jctl validate --fix` moves it")
    block = str(misplacement.parent[-1])
    return (f"`{key}` belongs beside `{block}`, not inside it (`{path_text((*target, key))}`)",
            f"move `{key}` out of `{block}:` to the level of `{block}`; `jctl validate --fix` moves it")


@check("misplaced-field", "error",
       "A known field written at the wrong level (beside its block instead of inside it, or the reverse).")
def check_misplaced_fields(spec: SpecFile) -> Iterator[Finding]:
    for misplacement in _misplacements(spec):
        if misplacement.target is not None:
            message, hint = belongs_message(misplacement)
            yield Finding(misplacement.path, message, hint=hint, at="key")


@check("misplaced-state", "error", "A whole state indented one level too deep, inside another state.")
def check_misplaced_states(spec: SpecFile) -> Iterator[Finding]:
    for misplacement in _misplacements(spec):
        if misplacement.target is None:
            state = str(misplacement.parent[-1])
            yield Finding(
                misplacement.path,
                f"state `{misplacement.key}` is indented one level too deep: it sits inside state `{state}`",
                hint=f"dedent `{misplacement.key}:` and its body so it sits under `states:` beside `{state}`; "
                     "`jctl validate --fix` moves it",
                at="key")


def _misplacements(spec: SpecFile) -> list[Misplacement]:
    return analysed(spec.document)[1] if is_journey_document(spec.data) else []
