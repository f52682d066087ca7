"""The streamed JSON list writer prints exactly what `json.dumps(items, indent=2)` prints."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jctl.cli.output import print_json, print_json_list

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text()
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
                      max_leaves=20)


@given(st.lists(values, max_size=6))
def test_streamed_list_is_the_indented_dump(items: list[object]) -> None:
    with pytest.MonkeyPatch.context() as patch:
        written: list[str] = []
        patch.setattr("sys.stdout.write", written.append)
        print_json_list(iter(items))
        streamed = "".join(written)
        written.clear()
        print_json(items)
        assert streamed == "".join(written)
    assert json.loads(streamed) == items
