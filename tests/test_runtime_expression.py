"""The Arazzo 1.0 runtime-expression grammar: what it accepts, where it points at a mistake, and the `body.x` slip."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jctl.checks.runtime_expression import (
    Expression, ExpressionError, condition_expressions, embedded_expressions, parse_expression,
)

VALID = [
    "$url", "$method", "$statusCode", "$request.header.X-Request-Id", "$request.query.page", "$request.path.id",
    "$request.body", "$response.body", "$response.body#", "$response.body#/items/0/id", "$response.body#/a~1b~0c",
    "$response.header.Location", "$inputs.token", "$outputs.result", "$steps.login.outputs.token",
    "$workflows.other.outputs.id", "$sourceDescriptions.petStore.url", "$components.parameters.page",
]

INVALID = [  # (text, offset of the mistake)
    ("$urlx", 0), ("$statusCode2", 11), ("$resposne.body", 0), ("$steps", 6), ("$inputs.", 8), ("$inputs.a b", 9),
    ("$response.status", 10), ("$response.header.", 17), ("$response.header.a b", 18),
    ("$response.body#id", 15), ("$response.body#/a~2", 17), ("inputs.x", 0),
]


@pytest.mark.parametrize("text", VALID)
def test_the_grammar_accepts(text: str) -> None:
    assert isinstance(parse_expression(text), Expression)


@pytest.mark.parametrize(("text", "offset"), INVALID)
def test_the_grammar_rejects_at_the_mistake(text: str, offset: int) -> None:
    parsed = parse_expression(text)
    assert isinstance(parsed, ExpressionError) and not parsed.dotted_body
    assert parsed.start == offset and parsed.hint


@pytest.mark.parametrize(("text", "pointer_form"), [
    ("$response.body.jobId", "$response.body#/jobId"),
    ("$response.body.items[0].id", "$response.body#/items/0/id"),
    ("$request.body.a.b", "$request.body#/a/b"),
    ("$response.body.a b", None),
])
def test_a_dotted_body_is_its_own_finding_with_the_pointer_form(text: str, pointer_form: str | None) -> None:
    parsed = parse_expression(text)
    assert isinstance(parsed, ExpressionError) and parsed.dotted_body
    assert parsed.pointer_form == pointer_form
    if pointer_form:
        assert isinstance(parse_expression(pointer_form), Expression)


def test_embedded_expressions_carry_their_offsets() -> None:
    found = list(embedded_expressions("Bearer {$inputs.token} for {$response.body.x}"))
    assert isinstance(found[0], Expression) and found[0].start == 8
    assert isinstance(found[1], ExpressionError) and found[1].dotted_body and found[1].start == 28 + 14
    unclosed = list(embedded_expressions("a {$inputs.x"))
    assert isinstance(unclosed[0], ExpressionError) and unclosed[0].start == 2


@pytest.mark.parametrize(("condition", "errors"), [
    ("$statusCode == 200", 0),
    ("$statusCode == 200 && ($response.body#/state != 'done' || $response.body#/n >= 2)", 0),
    ("!($response.body#/ok == true) && $inputs.level < 3.5", 0),
    ("$statusCode = 200", 1),
    ("$statusCode == 200)", 1),
    ("($statusCode == 200", 1),
    ("$response.body#/name == 'open", 1),
    ("$resposne.body#/x == 1", 1),
])
def test_simple_conditions(condition: str, errors: int) -> None:
    found = [e for e in condition_expressions(condition) if isinstance(e, ExpressionError)]
    assert len(found) == errors, found


@given(st.text(max_size=60))
def test_any_text_parses_or_is_an_error_inside_it(text: str) -> None:
    for parsed in (parse_expression("$" + text), *condition_expressions(text), *embedded_expressions(text)):
        assert 0 <= parsed.start <= max(len(text) + 1, 1)
