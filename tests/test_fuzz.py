"""Random bytes and random YAML through the loader and the whole validator: structured diagnostics only."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jctl.checks import Workspace
from jctl.diagnostics import Diagnostic
from jctl.lint import lint_file

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=30,
)
state_types = st.sampled_from(
    ["task", "choice", "transform", "wait", "webhook", "timer", "parallel", "subjourney", "succeed", "fail", 7, None]
)
journey_like = st.fixed_dictionaries(
    {
        "apiVersion": st.sampled_from(["v1", "v2", 1]),
        "kind": st.sampled_from(["Journey", "Api", "Other"]),
        "metadata": st.dictionaries(st.sampled_from(["name", "version", "tags"]), json_values, max_size=3),
        "spec": st.fixed_dictionaries(
            {
                "start": st.sampled_from(["a", "b", "missing", 3]),
                "states": st.dictionaries(
                    st.sampled_from(["a", "b", "c"]),
                    st.fixed_dictionaries({"type": state_types}, optional={
                        "next": st.sampled_from(["a", "b", "zzz", None]),
                        "task": json_values, "wait": json_values, "timer": json_values,
                        "choices": json_values, "transform": json_values, "parallel": json_values,
                    }),
                    max_size=3,
                ),
            },
            optional={"apis": json_values, "subjourneys": json_values, "compensation": json_values},
        ),
    }
)


def check_all_structured(found: list[Diagnostic]) -> None:
    for diagnostic in found:
        assert isinstance(diagnostic, Diagnostic)
        assert diagnostic.line >= 1 and diagnostic.column >= 1
        assert diagnostic.rule and diagnostic.message


@SETTINGS
@given(st.binary(max_size=400))
def test_random_bytes(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "fuzz.journey.yaml"
    path.write_bytes(content)
    check_all_structured(lint_file(path, Workspace(expressions=False)))


@SETTINGS
@given(st.text(alphabet=st.sampled_from(list(":-[]{}&*!|>'\"#%@` \n\tab1,?")), max_size=200))
def test_random_yaml_punctuation(tmp_path: Path, content: str) -> None:
    path = tmp_path / "fuzz.journey.yaml"
    path.write_text(content, encoding="utf-8")
    check_all_structured(lint_file(path, Workspace(expressions=False)))


@SETTINGS
@given(journey_like)
def test_random_journey_shaped_documents(tmp_path: Path, document: dict) -> None:
    for name, text in (("fuzz.journey.yaml", yaml.safe_dump(document)), ("fuzz.journey.json", json.dumps(document))):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        check_all_structured(lint_file(path, Workspace(expressions=False)))
