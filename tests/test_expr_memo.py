"""An evaluation gets only the context it reads, and a pure expression over the same inputs is answered from memory:
the answers (and errors) are exactly those of the engines given every binding."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from conftest import whole_bindings
from jctl.expr import EvalOptions, ExpressionError, evaluate, memo
from jctl.expr.bindings import build_bindings

NOW = datetime(2026, 3, 4, 5, 6, 7, tzinfo=timezone.utc)
CONTEXT = {
    "tracking": {"polls": 3, "pollSeconds": 5, "exportId": "e-1"},
    "status": {"body": {"state": "RUNNING"}},
    "items": [{"price": 2, "name": "a"}, {"price": 7, "name": "b"}],
    "claim": {"id": "c-9", "amount": 12},
    "other": {"big": list(range(50))},
}

CASES = [
    ("dataweave", '"PT" ++ (context.tracking.pollSeconds as String) ++ "S"'),
    ("dataweave", "context.tracking.polls + 1"),
    ("dataweave", 'context.status.body.state == "READY"'),
    ("dataweave", "context.items.price"),  # a field of an array: every element's
    ("dataweave", "sizeOf(context.items) + claim.amount"),  # a bare context key
    ("dataweave", "keysOf(context)"),  # the whole context
    ("dataweave", '"polls: $(context.tracking.polls)"'),
    ("dataweave", "context.tracking.polls + tracking.pollSeconds"),  # the key also read bare
    ("dataweave", "context.claim.missing default platform.environment"),
    ("dataweave", "context.tracking.polls + 'x'"),  # an error, with its message and position
    ("dataweave", "now()"),
    ("jsonata", "context.tracking.polls + 1"),
    ("jsonata", "context.items[price > 5].name"),
    ("jsonata", "claim.id & '/' & context.tracking.exportId"),
    ("jsonata", "$keys(context)"),
    ("jsonata", "$$.context.claim.id"),
    ("jsonata", "$sum(context.items.price) * 2"),
    ("jsonata", "{'decision': payload.decision, 'who': context.claim.id}"),
    ("jsonata", "context.claim.id + 1"),
    ("jsonata", "$millis()"),
]


def bindings() -> dict[str, Any]:
    return build_bindings(CONTEXT, payload={"decision": "APPROVE"}, platform={"environment": "dev"})


def outcome(lang: str, expr: str, now: datetime = NOW) -> tuple[str, Any]:
    try:
        return "value", evaluate(lang, expr, bindings(), EvalOptions(now=now))
    except ExpressionError as error:
        return "error", (error.kind, error.message, error.line, error.column)


@pytest.mark.parametrize(("lang", "expr"), CASES)
def test_narrowed_and_remembered_answers_are_the_engines_own(lang: str, expr: str,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    with whole_bindings(monkeypatch):  # every binding, never kept
        whole = outcome(lang, expr)
    assert outcome(lang, expr) == whole  # narrowed (and perhaps remembered)
    assert outcome(lang, expr) == whole  # asked again


def test_a_repeated_pure_evaluation_does_not_reach_the_worker(worker_requests: list[dict[str, Any]]) -> None:
    calls = worker_requests
    expr = 'context.status.body.state == "RUNNING" and context.tracking.pollSeconds == 5'
    first = evaluate("dataweave", expr, bindings(), EvalOptions(now=NOW))
    later = evaluate("dataweave", expr, bindings(), EvalOptions(now=NOW + timedelta(seconds=1)))
    assert first is True and later is True
    assert len(calls) == 1
    sent = calls[0]["inputs"]["context"]
    assert "other" not in sent and "polls" not in sent  # only the fields read were sent
    changed = build_bindings({**CONTEXT, "status": {"body": {"state": "READY"}}})
    assert evaluate("dataweave", expr, changed, EvalOptions(now=NOW)) is False  # other inputs: asked again
    assert len(calls) == 2


def test_the_clock_randomness_and_module_references_are_never_remembered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memo, "ANSWERS", memo.Answers())
    assert evaluate("dataweave", "now()", bindings(), EvalOptions(now=NOW)) != evaluate(
        "dataweave", "now()", bindings(), EvalOptions(now=NOW + timedelta(seconds=1)))
    assert evaluate("jsonata", "$millis()", bindings(), EvalOptions(now=NOW)) != evaluate(
        "jsonata", "$millis()", bindings(), EvalOptions(now=NOW + timedelta(seconds=1)))
    for lang, expr in [("dataweave", "uuid()"), ("dataweave", "dw::core::Strings::upper('a')"),
                       ("jsonata", "$uuid()"), ("jsonata", "$random()")]:
        assert memo.narrowed(lang, expr, bindings())[1] is False


@pytest.mark.parametrize(("lang", "expr"), [
    ("dataweave", "context"), ("dataweave", "context[0]"), ("dataweave", 'context."tracking"'),
    ("dataweave", "context.*tracking"), ("dataweave", "context..polls"), ("dataweave", "context pluck $"),
    ("dataweave", '"$context"'), ("jsonata", "$.context"), ("jsonata", "*.polls"), ("jsonata", "**.polls"),
    ("jsonata", "context.`tracking`"), ("jsonata", "context.tracking.%"),
])
def test_what_may_read_the_whole_context_gets_all_of_it(lang: str, expr: str) -> None:
    given = bindings()
    assert memo.narrowed(lang, expr, given) == (given, False)


def test_the_memory_is_bounded() -> None:
    answers = memo.Answers(limit=2)
    keys = [memo.Answers.key("jsonata", "x", None, f'{{"n":{n}}}') for n in range(3)]
    for key in keys:
        answers.put(key, "1")
    assert answers.get(keys[0]) is None and answers.get(keys[2]) == "1"
    assert memo.Answers.key("jsonata", "x", None, '{"big":"' + "x" * memo.MAX_KEY_CHARS + '"}') is None
