"""The DSL style guide (dsl-style.md) as warnings: block-style mappings only, quoted placeholders, a `default`
on every choice, short descriptions."""

from __future__ import annotations

from collections.abc import Iterator

from jctl.checks import SpecFile, check
from jctl.diagnostics import DocPath, Finding
from jctl.spec.model import iter_states, node_at

DESCRIPTION_LIMIT = 200


def _flow_mappings(spec: SpecFile) -> Iterator[DocPath]:
    """Paths of non-empty flow mappings (`{a: 1}`), outermost only; `{}` has no block form so it is allowed."""
    if _is_json(spec):
        return
    lines = spec.document.lines
    flagged: list[DocPath] = []
    for path, pos in spec.document.source_map.positions.items():
        if pos.line >= len(lines) or not lines[pos.line][pos.column : pos.column + 1] == "{":
            continue
        if lines[pos.line][pos.column + 1 :].lstrip().startswith("}"):
            continue
        if any(path[: len(outer)] == outer for outer in flagged):
            continue
        flagged.append(path)
        yield path


def _is_json(spec: SpecFile) -> bool:
    """A JSON document is all flow style by nature; the style guide is about YAML."""
    return spec.path.suffix.lower() == ".json" or spec.document.text.lstrip().startswith("{")


@check("flow-style", "warning", "A flow-style mapping (`{a: 1}`); the style guide requires block style.")
def flow_style(spec: SpecFile) -> Iterator[Finding]:
    for path in _flow_mappings(spec):
        yield Finding(
            path,
            "flow-style mapping `{ ... }`; journey YAML uses block-style mappings",
            "write each key on its own indented line (flow lists such as `[a, b]` are fine)",
        )


@check("choice-default", "warning", "A choice state without a `default` branch.")
def choice_default(spec: SpecFile) -> Iterator[Finding]:
    for ref in iter_states(spec.data):
        if ref.type == "choice" and "default" not in ref.state:
            yield Finding(
                ref.path,
                f"choice `{ref.state_id}` has no `default`; if no predicate matches the run fails with an engine error",
                "add `default: <stateId>` for the case no branch matches",
                at="key",
            )


@check("long-description", "warning", "metadata.description is longer than 200 characters.")
def long_description(spec: SpecFile) -> Iterator[Finding]:
    metadata = spec.data.get("metadata") if isinstance(spec.data, dict) else None
    description = metadata.get("description") if isinstance(metadata, dict) else None
    if isinstance(description, str) and len(description.strip()) > DESCRIPTION_LIMIT:
        yield Finding(
            ("metadata", "description"),
            f"metadata.description is {len(description.strip())} characters; keep it to 1-2 sentences "
            f"(at most {DESCRIPTION_LIMIT})",
            "move details into a README or comments next to the states",
        )


@check("unquoted-interpolation", "warning", "A plain (unquoted) scalar contains a `${...}` placeholder.")
def unquoted_interpolation(spec: SpecFile) -> Iterator[Finding]:
    if _is_json(spec):
        return
    for path, pos in spec.document.source_map.positions.items():
        if pos.style or pos.line != pos.end_line:  # plain scalars have no style ("" from libyaml)
            continue
        value = node_at(spec.data, path)
        if isinstance(value, str) and "${" in value:
            yield Finding(path, "a string with `${...}` is unquoted", f'quote it: "{value}"')
