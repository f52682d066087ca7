"""Files a spec refers to or sits next to, loaded once through the workspace, and the reporting helpers the
OpenAPI and Arazzo checks share: where to point at a difference, and JSON Schema errors as findings."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from jctl.checks import SpecFile
from jctl.checks.openapi_index import MISSING, is_missing
from jctl.diagnostics import Anchor, DocPath, Finding, path_text
from jctl.spec.loader import LoadedDocument, LoadError
from jctl.spec.model import EXTERNAL_INPUT_TYPES, StateRef, iter_states, node_at


def load_reference(spec: SpecFile, ref: str) -> tuple[LoadedDocument | None, str]:
    """Load a file a spec refers to; on failure, the second item says what went wrong, for a message."""
    path = spec.workspace.find_ref(spec.path, ref)
    if path is None:
        where = "an absolute path" if Path(ref).is_absolute() else (
            f"{spec.path.resolve().parent} or any parent directory")
        return None, f"`{ref}` is not a file (looked in {where})"
    loaded = spec.workspace.load(path, positions=False)
    if isinstance(loaded, LoadError):
        return None, f"`{ref}` ({path}) cannot be loaded: {loaded.message} at line {loaded.line}"
    return loaded, ""


_KIND_SUFFIXES = (".journey", ".openapi", ".arazzo")


def sibling_journey(spec: SpecFile) -> LoadedDocument | None:
    """The journey a per-journey OpenAPI or Arazzo file was exported from: `<name>.journey.yaml` next to it."""
    stem = spec.path.name
    for extension in (".yaml", ".yml", ".json"):
        stem = stem.removesuffix(extension)
    for suffix in _KIND_SUFFIXES:
        stem = stem.removesuffix(suffix)
    for extension in (".yaml", ".yml", ".json"):
        candidate = spec.path.parent / f"{stem}.journey{extension}"
        if candidate.is_file():
            loaded = spec.workspace.load(candidate, positions=False)
            if isinstance(loaded, LoadedDocument) and isinstance(loaded.data, dict):
                return loaded
    return None


def external_input_states(journey: Any) -> dict[str, StateRef]:
    """wait/webhook states by id: each is a `/steps/{stepId}` endpoint of the journey's API."""
    return {ref.state_id: ref for ref in iter_states(journey) if ref.type in EXTERNAL_INPUT_TYPES}


def state_input_schema(ref: StateRef) -> Any:
    block = ref.state.get(str(ref.type))
    schema_holder = block.get("input") if isinstance(block, dict) else None
    return schema_holder.get("schema") if isinstance(schema_holder, dict) else None


# --- where to report ---------------------------------------------------------------------------------------------

def point_at(document: LoadedDocument, base: DocPath, relative: DocPath) -> tuple[DocPath, Anchor]:
    """Where to report a schema difference found at `relative` below `base`: the deepest node that exists, by its
    key when it is a mapping or list (its value starts on the next line) and by its value when it is a scalar."""
    path = base + relative
    while len(path) > len(base) and path not in document.source_map.positions:
        path = path[:-1]
    value = node_at(document.data, path, MISSING)
    return path, "key" if isinstance(value, (dict, list)) or is_missing(value) else "value"


def describe_value(value: Any) -> str:
    if value is MISSING:
        return "nothing"
    text = repr(value) if not isinstance(value, str) else f"`{value}`"
    return text if len(text) <= 60 else text[:57] + "..."


def dotted(path: DocPath) -> str:
    return ".".join(str(part) for part in path) or "(root)"


# --- JSON Schema errors as findings -------------------------------------------------------------------------------

_UNEXPECTED = re.compile(r"\((.+) (?:was|were) unexpected\)|^(.+) (?:does|do) not match any of the regexes")


def schema_error_findings(errors: Iterable[Any], document_name: str, limit: int = 25) -> Iterator[Finding]:
    """One finding per jsonschema error, deepest cause first, at the offending node (or the unexpected key)."""
    from jsonschema.exceptions import best_match

    seen: set[tuple[DocPath, str]] = set()
    resolved = [best_match(error.context) or error if error.context else error for error in meant_errors(errors)]
    # a key whose value fails is "unevaluated" too: report its value, not the key as unknown
    failing = {tuple(error.absolute_path) for error in resolved}
    wrong_fields = {tuple(e.absolute_path) for e in resolved if e.validator in ("enum", "const", "type", "pattern")}
    for error in sorted(resolved, key=lambda e: (list(map(str, e.absolute_path)), e.message)):
        path: DocPath = tuple(error.absolute_path)
        unexpected = _UNEXPECTED.search(error.message)
        if unexpected and error.validator in ("unevaluatedProperties", "additionalProperties"):
            listed = unexpected.group(1) or unexpected.group(2)
            names = [name for name in re.findall(r"'([^']*)'", listed) if path + (name,) not in failing]
            if error.validator == "unevaluatedProperties" and _fails_inside(path, wrong_fields):
                names = []  # a field of this object broke the branch that declares its siblings: not unknown
            for name in names[:5]:
                key = (path + (name,), "unexpected")
                if key not in seen:
                    seen.add(key)
                    yield Finding(path + (name,), f"`{name}` is not a field of {document_name} {_where(path)}",
                                  "remove it, fix its spelling, or prefix an extension with `x-`", at="key")
        elif (path, error.message) not in seen:
            seen.add((path, error.message))
            at: Anchor = "key" if isinstance(error.instance, (dict, list)) and path else "value"
            yield Finding(path, f"{document_name} {_where(path)}: {_shorten(_message(error, path))}",
                          _schema_hint(error, document_name), at=at)
        if len(seen) >= limit:
            return


def _fails_inside(path: DocPath, failing: set[DocPath]) -> bool:
    return any(len(other) == len(path) + 1 and other[:len(path)] == path for other in failing)


def compiled_validator(schema: Any) -> Any | None:
    """A compiled (Rust) validator for the hot path, or None where jsonschema-rs is missing or refuses the schema;
    the pure-Python validator then does all the work."""
    try:
        import jsonschema_rs

        return jsonschema_rs.validator_for(schema)
    except Exception:  # noqa: BLE001 - any refusal just means the slow path
        return None


def quickly_valid(compiled: Any | None, data: Any) -> bool:
    """True when the compiled validator accepts `data`; documents it rejects (or cannot take, such as YAML dates)
    go through the pure-Python validator, whose errors carry the paths and branches the findings need."""
    if compiled is None:
        return False
    try:
        return bool(compiled.is_valid(data))
    except Exception:  # noqa: BLE001 - a value it cannot represent: let the full validator judge
        return False


def meant_errors(errors: Iterable[Any]) -> Iterator[Any]:
    """Each error, with a failed `oneOf`/`anyOf` replaced by the errors of the branch the document evidently meant
    (or, when every branch refuses the same key's value, by one error listing every value that key may take)."""
    for error in errors:
        branch = best_branch(error)
        if branch is not None:
            yield from meant_errors(branch)
        else:
            yield _discriminator_error(error) or error


def _discriminator_error(error: Any) -> Any | None:
    """For a `oneOf`/`anyOf` whose every branch requires a different constant at the same key (`in: path`,
    `in: query`… of an OpenAPI 3.0 parameter), one `enum` error at that key naming all of them."""
    if error.validator not in ("oneOf", "anyOf") or not error.context:
        return None
    by_branch: dict[Any, dict[tuple[Any, ...], list[Any]]] = {}
    for sub in error.context:
        if sub.validator in ("enum", "const") and sub.relative_path:
            values = sub.validator_value if sub.validator == "enum" else [sub.validator_value]
            by_branch.setdefault(sub.relative_schema_path[0], {}).setdefault(tuple(sub.relative_path), []).append(
                (sub, values))
    branches = {sub.relative_schema_path[0] for sub in error.context}
    if len(branches) < 2 or set(by_branch) != branches:
        return None
    shared = set.intersection(*(set(keys) for keys in by_branch.values()))
    if not shared:
        return None
    key = min(shared, key=len)
    allowed: list[Any] = []
    for refusals in by_branch.values():
        for _sub, values in refusals[key]:
            allowed.extend(value for value in (values if isinstance(values, list) else [values])
                           if value not in allowed)
    from jsonschema.exceptions import ValidationError

    first = by_branch[next(iter(by_branch))][key][0][0]
    return ValidationError(f"{first.instance!r} is not one of {allowed!r}", validator="enum", validator_value=allowed,
                           instance=first.instance, path=list(first.absolute_path))


def best_branch(error: Any) -> list[Any] | None:
    """The errors of the `oneOf`/`anyOf` alternative the value was meant to be, or None when none stands out.

    An alternative whose discriminating keys disagree (a wrong type of the value, a `const` on one of its keys)
    was not meant; among the rest the one failing deepest wins (`in: body` is a wrong `in` of a parameter, not a
    reusable-parameter reference missing `reference` with two unexpected keys)."""
    if error.validator not in ("oneOf", "anyOf") or not error.context:
        return None
    by_branch: dict[Any, list[Any]] = {}
    for sub in error.context:
        by_branch.setdefault(sub.relative_schema_path[0], []).append(sub)
    ranked = sorted(by_branch.values(), key=_branch_badness)
    if len(ranked) > 1 and _branch_badness(ranked[0]) == _branch_badness(ranked[1]):
        return None
    return ranked[0]


def _branch_badness(subs: list[Any]) -> tuple[int, int, int]:
    disqualified = sum(1 for sub in subs if (not sub.relative_path and sub.validator in ("type", "not", "const"))
                       or (len(sub.relative_path) == 1 and sub.validator == "const"))
    shallow = 0
    for sub in subs:
        if not sub.relative_path and sub.validator in ("oneOf", "anyOf") and sub.context:
            shallow += _nested_shallowness(sub)  # judged by its own closest alternative, not as one failure
        elif not sub.relative_path:
            unexpected = _UNEXPECTED.search(sub.message)
            shallow += len(re.findall(r"'([^']*)'", unexpected.group(1) or unexpected.group(2))) if unexpected else 1
    return disqualified, shallow, len(subs)


def _nested_shallowness(error: Any) -> int:
    if _discriminator_error(error) is not None:
        return 0  # the value sets the key these alternatives are told apart by: it meant one of them
    by_branch: dict[Any, list[Any]] = {}
    for sub in error.context:
        by_branch.setdefault(sub.relative_schema_path[0], []).append(sub)
    return min(_branch_badness(subs)[1] for subs in by_branch.values())


def _message(error: Any, path: DocPath) -> str:
    missing = re.match(r"^'([^']*)' is a required property$", str(error.message))
    if error.validator == "required" and missing:
        return f"missing required field `{missing.group(1)}`"
    if error.validator == "enum" and isinstance(error.validator_value, list) and path:
        allowed = ", ".join(f"`{value}`" for value in error.validator_value)
        return f"`{path[-1]}` must be one of {allowed}, not `{error.instance}`"
    return str(error.message)


def _schema_hint(error: Any, document_name: str) -> str:
    expected = error.validator_value
    if error.validator == "type":
        return f"write a value of type {' or '.join(expected) if isinstance(expected, list) else expected}"
    if error.validator == "required":
        return "add the missing field"
    if error.validator in ("enum", "const"):
        return f"use one of: {', '.join(map(str, expected if isinstance(expected, list) else [expected]))}"
    if error.validator == "pattern":
        return f"write a value matching `{expected}`"
    return f"see what the {document_name} specification allows here (`{error.validator}`)"


def _where(path: DocPath) -> str:
    return f"at `{path_text(path)}`" if path else "at the top level"


def _shorten(message: str) -> str:
    return message if len(message) <= 200 else message[:197] + "..."
