"""Payload and input checks confirm a valid value with the compiled validator and explain an invalid one with
`jsonschema`: the two must agree on every verdict, so users see the same answers as before."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from jctl.payload_schema import _conforms, schema_violations

SCHEMAS: list[dict[str, Any]] = [
    {"type": "object", "required": ["decision"], "properties": {"decision": {"enum": ["approve", "reject"]},
                                                                "note": {"type": "string", "maxLength": 5}},
     "additionalProperties": False},
    {"type": "array", "items": {"type": "integer", "minimum": 0}, "uniqueItems": True, "maxItems": 3},
    {"oneOf": [{"type": "string", "pattern": "^[a-z]+$"}, {"type": "number", "multipleOf": 0.5}]},
    {"$defs": {"id": {"type": "string", "minLength": 2}}, "type": "object",
     "properties": {"id": {"$ref": "#/$defs/id"}}, "patternProperties": {"^x-": {"type": "boolean"}}},
    {"type": "string", "format": "email"},  # formats annotate, they do not assert (Draft 2020-12 default)
]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.floats(-3, 3, allow_nan=False) | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(["decision", "note", "id", "x-a", "z"]),
                                                                inner, max_size=3),
    max_leaves=8,
)


@pytest.mark.parametrize("schema", SCHEMAS)
@given(value=json_values | st.fixed_dictionaries({"decision": st.sampled_from(["approve", "reject", "maybe"])}))
def test_the_fast_verdict_is_jsonschemas(schema: dict[str, Any], value: Any) -> None:
    assert _conforms(schema, value) == jsonschema.Draft202012Validator(schema).is_valid(value)


def test_a_no_is_explained_by_jsonschema_messages() -> None:
    assert schema_violations(SCHEMAS[0], {"decision": "maybe"}) == ["decision: 'maybe' is not one of ['approve', 'reject']"]
    assert schema_violations(SCHEMAS[0], {"decision": "approve"}) == []
