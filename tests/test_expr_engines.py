"""The expression engines through the public interface: values, bindings, determinism, errors with positions."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from jctl.expr import EvalOptions, ExpressionError, compile_check, evaluate
from jctl.expr.bindings import build_bindings, context_aliases

NOW = datetime(2026, 3, 4, 5, 6, 7, tzinfo=timezone.utc)
CONTEXT = {"id": "c-1", "amount": 42, "jobStart": {"body": {"jobId": "J-9"}}, "type": "reserved", "items": [1, 2, 3]}


def options(**extra: object) -> EvalOptions:
    return EvalOptions(now=NOW, **extra)  # type: ignore[arg-type]


def bindings() -> dict[str, object]:
    return build_bindings(CONTEXT, payload={"decision": "approve"}, platform={"environment": "dev"})


@pytest.mark.parametrize(
    ("lang", "expr", "expected"),
    [
        ("dataweave", "{id: context.id, n: sizeOf(context.items), ok: payload.decision == 'approve'}",
         {"id": "c-1", "n": 3, "ok": True}),
        ("jsonata", "{'id': context.id, 'n': $count(context.items), 'ok': payload.decision = 'approve'}",
         {"id": "c-1", "n": 3, "ok": True}),
        ("jq", "{id: .context.id, n: (.context.items | length), ok: (.payload.decision == \"approve\")}",
         {"id": "c-1", "n": 3, "ok": True}),
        ("jolt", '[{"operation": "shift", "spec": {"context": {"id": "out.id", "amount": "out.total"}}}]',
         {"out": {"id": "c-1", "total": 42}}),
    ],
)
def test_each_engine_evaluates(lang: str, expr: str, expected: object) -> None:
    assert evaluate(lang, expr, bindings(), options()) == expected


@pytest.mark.parametrize(
    ("lang", "expr"),
    [("dataweave", "jobStart.body.jobId"), ("jsonata", "jobStart.body.jobId"), ("jq", ".jobStart.body.jobId")],
)
def test_bare_top_level_context_keys_are_bound(lang: str, expr: str) -> None:
    assert evaluate(lang, expr, bindings(), options()) == "J-9"


def test_alias_rule_skips_reserved_words_and_binding_names() -> None:
    aliases = context_aliases(build_bindings({"type": 1, "payload": 2, "ok_name": 3, "not-ident": 4, "sizeOf": 5}))
    assert aliases == ["ok_name"]


def test_dataweave_duplicate_keys_last_wins() -> None:
    result = evaluate("dataweave", "context ++ {amount: 7, extra: true}", bindings(), options())
    assert result["amount"] == 7 and result["extra"] is True and result["id"] == "c-1"


@pytest.mark.parametrize(
    ("lang", "expr", "expected"),
    [
        ("dataweave", "now()", "2026-03-04T05:06:07Z"),
        ("dataweave", "now() as String {format: \"yyyy-MM-dd\"}", "2026-03-04"),
        ("jsonata", "$now()", "2026-03-04T05:06:07.000Z"),
        ("jsonata", "$millis()", int(NOW.timestamp() * 1000)),
        ("jq", "now | todate", "2026-03-04T05:06:07Z"),
    ],
)
def test_now_is_the_simulated_clock(lang: str, expr: str, expected: object) -> None:
    assert evaluate(lang, expr, bindings(), options()) == expected


@pytest.mark.parametrize(("lang", "expr"), [("dataweave", "uuid()"), ("jsonata", "$uuid()")])
def test_seeded_uuid_is_deterministic(lang: str, expr: str) -> None:
    first = evaluate(lang, expr, bindings(), options(uuid_seed="run-1:step-2"))
    again = evaluate(lang, expr, bindings(), options(uuid_seed="run-1:step-2"))
    other = evaluate(lang, expr, bindings(), options(uuid_seed="run-1:step-3"))
    assert first == again != other
    unseeded = {evaluate(lang, expr, bindings(), options()) for _ in range(3)}
    assert len(unseeded) == 3


def test_jsonata_seeded_uuids_differ_within_one_evaluation() -> None:
    pair = evaluate("jsonata", "[$uuid(), $uuid()]", bindings(), options(uuid_seed="s"))
    assert pair[0] != pair[1] and pair == evaluate("jsonata", "[$uuid(), $uuid()]", bindings(), options(uuid_seed="s"))


def test_jq_multiple_outputs_become_a_list() -> None:
    assert evaluate("jq", ".context.items[]", bindings(), options()) == [1, 2, 3]


def test_jolt_default_and_remove() -> None:
    spec = """
- operation: shift
  spec: {context: {id: id, amount: amount, type: kind}}
- operation: default
  spec: {currency: EUR, amount: 0}
- operation: remove
  spec: {kind: ""}
"""
    assert evaluate("jolt", spec, bindings(), options()) == {"id": "c-1", "amount": 42, "currency": "EUR"}


def test_jolt_alias_bomb_is_refused_not_walked() -> None:
    levels = "".join(f"    {c}: &{c} [" + ",".join([f"*{p}"] * 9) + "]\n" for p, c in zip("abcdefgh", "bcdefghi"))
    bomb = "- operation: shift\n  spec:\n    a: &a [x, x, x, x, x, x, x, x, x]\n" + levels
    errors = compile_check("jolt", bomb)
    assert errors and "more than 50,000 nodes" in errors[0].message
    with pytest.raises(ExpressionError, match="50,000 nodes"):
        evaluate("jolt", bomb, bindings(), options())


def test_jolt_unsupported_operation_is_named() -> None:
    errors = compile_check("jolt", '[{"operation": "cardinality", "spec": {}}]')
    assert errors and "cardinality" in errors[0].message and "shift" in errors[0].message


@pytest.mark.parametrize(
    ("lang", "expr", "line", "column"),
    [
        ("dataweave", "{\n  a: 1,\n  b: foo(2)\n}", 3, 6),
        ("dataweave", "context.a +", None, None),
        ("jsonata", "context.a +", 1, 11),
        ("jq", ".a |\n (", 2, 2),
    ],
)
def test_syntax_errors_carry_positions_in_the_expression(lang: str, expr: str, line: int | None,
                                                         column: int | None) -> None:
    errors = compile_check(lang, expr)
    assert errors and errors[0].kind == "syntax"
    if line is not None:
        assert (errors[0].line, errors[0].column) == (line, column)
    with pytest.raises(ExpressionError) as raised:
        evaluate(lang, expr, bindings(), options())
    assert raised.value.kind == "syntax" if lang == "dataweave" else raised.value.kind in ("syntax", "runtime")


def test_dataweave_unknown_function_and_any_get_precise_messages() -> None:
    assert "unknown function `foo`" in compile_check("dataweave", "foo(1)")[0].message
    assert "dw::core::Arrays::some" in compile_check("dataweave", "context.items any ((x) -> x > 1)")[0].message
    assert compile_check("dataweave", "context.items dw::core::Arrays::some ((x) -> x > 1)") == []


def test_dataweave_compile_check_accepts_bare_context_keys() -> None:
    assert compile_check("dataweave", "jobStart.body.jobId ++ other.thing") == []


def test_runtime_error_is_runtime_with_position() -> None:
    with pytest.raises(ExpressionError) as raised:
        evaluate("dataweave", "{\n a: 1,\n b: 1 / 0\n}", bindings(), options())
    assert raised.value.kind == "runtime" and raised.value.line == 3


def test_unknown_language() -> None:
    assert compile_check("xpath", "/a")[0].kind == "syntax"
    with pytest.raises(ExpressionError):
        evaluate("xpath", "/a", bindings(), options())


def test_a_result_that_is_not_json_is_a_runtime_error_not_a_dead_worker() -> None:
    from jctl.expr import pools

    jsonata_pool = pools.pool("python", options().memory_mb)
    respawns = jsonata_pool.respawns
    with pytest.raises(ExpressionError) as raised:
        evaluate("jsonata", "function($x) { $x }", bindings(), options())
    assert raised.value.kind == "runtime" and "not a JSON value" in raised.value.message
    assert jsonata_pool.respawns == respawns  # the worker answered; it was not killed and replaced
    assert evaluate("jsonata", "context.amount + 1", bindings(), options()) == 43


def test_a_result_with_nan_or_infinity_is_an_expression_error() -> None:
    """JSON has no NaN/Infinity: such a value stored in context would make `--format json` output invalid."""
    with pytest.raises(ExpressionError, match="NaN, Infinity") as raised:
        evaluate("dataweave", "{ big: 1e400 }", bindings(), options())
    assert raised.value.kind == "runtime"
    assert evaluate("jq", "{i: infinite}", bindings(), options()) == {"i": 1.7976931348623157e308}
