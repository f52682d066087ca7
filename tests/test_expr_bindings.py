"""An evaluation is sent only the bindings, context keys and DataWeave aliases its text can name, and answers exactly
as it does given all of them: same values, same errors, same messages and positions."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonata import Jsonata  # at import: the engine raises the recursion limit when first imported
from jsonata.jexception import JException

from conftest import whole_bindings
from jctl.expr import EvalOptions, ExpressionError, evaluate, jsonata, memo, worker
from jctl.expr.bindings import build_bindings

NOW = datetime(2026, 3, 4, 5, 6, 7, tzinfo=timezone.utc)
KEYS = ["tracking", "status", "items", "claim", "log", "x", "payloads"]
FIELDS = ["polls", "pollSeconds", "id", "price", "state", "y", "deeper"]

DATAWEAVE = [
    "context.tracking.polls + 1",
    "tracking.polls default 0",
    '"polls: $(tracking.polls default 0)"',
    '"$x"',  # interpolation names a value inside a string
    "sizeOf(keysOf(context))",
    "(context.claim.id default 'none') ++ '/' ++ (payload.decision default '')",
    "// tracking is named only in this comment\ncontext.status",
    "x.y default log",
    "platform.environment",
    "context.items.price",
    "claim.missing.deeper",
    "tracking + 1",  # an error for most contexts: message and position must not move
    "do { var t = context.tracking --- t.polls }",
    "context.tracking.polls + tracking.pollSeconds",
    "upper(claim.id default 'none')",
    "context.?tracking",
    "payloads",
    "x\n  + 1",
]
JSONATA = [
    "context.tracking.polls + 1",
    "claim.id & '/' & context.tracking.pollSeconds",
    "$keys(context)",
    "context.items[price > 5].y",
    "/* tracking */ context.claim.id",
    "'tracking' & context.x",
    "$string(tracking.polls)",
    "context.claim.id + 1",
    "{'decision': payload.decision, 'who': context.claim.id}",
]

FIELD_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-5, 50), st.sampled_from(["READY", "a", ""]))
VALUES = st.recursive(
    FIELD_VALUES,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(FIELDS), inner, max_size=4)),
    max_leaves=8,
)
CONTEXTS = st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=6)


def outcome(lang: str, expr: str, context: dict[str, Any], seed: str | None = None) -> tuple[str, Any]:
    bindings = build_bindings(context, payload={"decision": "APPROVE"}, platform={"environment": "dev"})
    try:
        return "value", evaluate(lang, expr, bindings, EvalOptions(now=NOW, uuid_seed=seed))
    except ExpressionError as error:
        return "error", (error.kind, error.message, error.line, error.column)


def whole(lang: str, expr: str, context: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
          seed: str | None = None) -> tuple[str, Any]:
    with whole_bindings(monkeypatch):
        return outcome(lang, expr, context, seed)


@pytest.mark.parametrize(("lang", "expr"), [*(("dataweave", e) for e in DATAWEAVE), *(("jsonata", e) for e in JSONATA)])
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(context=CONTEXTS)
def test_pruned_bindings_answer_as_whole_ones(lang: str, expr: str, context: dict[str, Any],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    expected = whole(lang, expr, context, monkeypatch)
    assert outcome(lang, expr, context) == expected
    assert outcome(lang, expr, context) == expected  # perhaps from memory now


@pytest.mark.parametrize("expr", ["uuid()", "random()", "randomInt(10)", "[uuid(), random()]", "x default 1",
                                  "'uuid random'", "x +"])
def test_seeded_functions_are_declared_where_named_and_answer_the_same(expr: str,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    expected = whole("dataweave", expr, {"x": 2}, monkeypatch, seed="s-1")
    assert outcome("dataweave", expr, {"x": 2}, seed="s-1") == expected


def test_names_are_the_words_not_written_as_selectors() -> None:
    found = memo.names('context.tracking.polls + claim.id ++ "$(x)" ++ "a.y" // log\n context.?z context.@w')
    assert {"context", "claim", "x", "log", "z", "w"} <= found
    assert not found & {"tracking", "polls", "id", "y"}


def test_a_poll_predicate_is_sent_no_aliases_and_only_the_context_it_reads(
        worker_requests: list[dict[str, Any]]) -> None:
    sent = worker_requests
    context = {"tracking": {"polls": 4, "exportId": "e"}, "exportStatus": {"body": {"state": "RUNNING"}}}
    assert outcome("dataweave", "context.tracking.polls + 1", context) == ("value", 5)
    assert "var " not in sent[0]["script"]
    assert sent[0]["inputs"] == {"context": '{"tracking": {"polls": 4}}'}
    assert outcome("dataweave", "tracking.polls + 1", context) == ("value", 5)
    assert "var tracking = context.tracking" in sent[1]["script"] and "exportStatus" not in sent[1]["script"]


def test_a_key_is_built_from_the_text_the_request_sends() -> None:
    text = '{"a":1}'
    assert memo.Answers.key("jsonata", "a", None, text) == ("jsonata", "a", "", text)
    assert memo.Answers.key("jsonata", "a", "x", text) != memo.Answers.key("jsonata", "a", None, text)
    assert memo.Answers.key("jsonata", "a", None, ("x=1", "y=2")) != memo.Answers.key("jsonata", "a", None, "x=1y=2")
    assert memo.Answers.key("jsonata", "a", None, "x" * memo.MAX_KEY_CHARS) is None


def test_a_document_encoded_for_the_key_is_sent_as_the_document_itself() -> None:
    payload = {"lang": "jsonata", "expr": "a", "document_json": '{"a":[1,"x\\"y"]}'}
    assert json.loads(worker._encode(payload)) == {"lang": "jsonata", "expr": "a", "document": {"a": [1, 'x"y']}}
    assert json.loads(worker._encode({"document_json": "null"})) == {"document": None}
    assert json.loads(worker._encode({"ok": True, "json": "1"})) == {"ok": True, "json": "1"}


JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.text()),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=4), inner, max_size=4)),
    max_leaves=12,
)


@pytest.mark.parametrize("expr", ["$", "$count($keys($))", "$string($)", "**"])
@settings(max_examples=40, deadline=None)
@given(document=JSON_VALUES)
def test_jsonata_without_its_input_walk_answers_as_with_it(expr: str, document: Any) -> None:
    def answer(evaluate: Any) -> tuple[str, Any]:
        try:
            return "value", evaluate()
        except JException as error:
            return "error", str(error)

    walked = answer(lambda: Jsonata(expr).evaluate(json.loads(json.dumps(document))))
    assert answer(lambda: jsonata.evaluate_document(expr, json.loads(json.dumps(document)), 0, None, 5000)) == walked
