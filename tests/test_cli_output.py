"""The streamed JSON list writer prints exactly what `json.dumps(items, indent=2)` prints, whatever the batches."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jctl.cli.output import _indented, print_json, print_json_batches

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text()
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
                      max_leaves=20)


def one_level_down(batch: list[object]) -> str:
    return ",\n  ".join(_indented(item).replace("\n", "\n  ") for item in batch)


@given(st.lists(st.lists(values, max_size=3), max_size=4))
def test_streamed_batches_are_the_indented_dump(batches: list[list[object]]) -> None:
    items = [item for batch in batches for item in batch]
    with pytest.MonkeyPatch.context() as patch:
        written: list[str] = []
        patch.setattr("sys.stdout.write", written.append)
        print_json_batches(iter(batches), one_level_down)
        streamed = "".join(written)
        written.clear()
        print_json(items)
        assert streamed == "".join(written)
    assert json.loads(streamed) == items
