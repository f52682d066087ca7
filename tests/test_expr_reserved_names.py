"""The reference's documented DataWeave forms that use reserved words (`output`, `.type`) compile and evaluate as
written, with the same host rewrite in `jctl validate` and the runner, and without widening the sandbox."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from jctl.expr import EvalOptions, ExpressionError, compile_check, evaluate
from jctl.expr.bindings import build_bindings, context_aliases
from jctl.expr.dw_dialect import OUTPUT_NAME, host_form
from jctl.lint import lint_file

OPTIONS = EvalOptions(now=datetime(2026, 1, 1, tzinfo=timezone.utc))
CONTEXT = {"api": {"ok": False, "error": {"type": "TIMEOUT"}}, "sub": {"phase": "SUCCEEDED", "output": {"status": "OK"}}}

# (reference section, expression, bindings beyond context, expected value)
DOCUMENTED = [
    ("2.5 compensation.alsoFor", 'output.overallStatus == "PARTIALLY_CONFIRMED"',
     {"output": {"overallStatus": "PARTIALLY_CONFIRMED"}}, True),
    ("5.8 subjourney resultKind: outcome", 'context.sub.output.status == "OK"', {}, True),
    ("5.8 subjourney via bare alias", "sub.output.status", {}, "OK"),
    ("5.6 choice over context.<resultVar>.error.type", 'context.api.error.type == "TIMEOUT"', {}, True),
    ("5.6 bare alias", "api.error.type", {}, "TIMEOUT"),
    ("10.2 error mappers", "error.type", {"error": {"type": "about:blank"}}, "about:blank"),
    ("14.1 Problem Details keys", "{type: 'https://example.com/probs/x', status: context.api.status default 500}",
     {}, {"type": "https://example.com/probs/x", "status": 500}),
]


@pytest.mark.parametrize(("section", "expr", "extra", "expected"), DOCUMENTED, ids=[d[0] for d in DOCUMENTED])
def test_documented_forms_compile_and_evaluate(section: str, expr: str, extra: dict[str, object],
                                               expected: object) -> None:
    assert compile_check("dataweave", expr) == []
    bindings = build_bindings(CONTEXT, **extra)
    assert evaluate("dataweave", expr, bindings, OPTIONS) == expected


def test_output_outside_a_site_that_binds_it_reads_null() -> None:
    assert evaluate("dataweave", "output default 7", build_bindings(CONTEXT), OPTIONS) == 7


def test_the_rewrite_touches_code_only() -> None:
    form = host_form('output.type ++ "output.type" // output.type\n++ x."type" ++ {a: output}.a')
    assert form.text == f'{OUTPUT_NAME}."type" ++ "output.type" // output.type\n++ x."type" ++ {{a: {OUTPUT_NAME}}}.a'
    assert host_form("{output: 1,\n type: 2}").text == '{"output": 1,\n "type": 2}'  # keys are quoted, not renamed
    assert host_form("{default: 1}").text == "{default: 1}"  # `default:` stays a reported dialect slip


def test_errors_point_at_what_the_user_wrote() -> None:
    [error] = compile_check("dataweave", "output.type ++ output.type ++ nope(1)")
    assert (error.line, error.column) == (1, 31)
    with pytest.raises(ExpressionError) as raised:
        evaluate("dataweave", 'error.type ++ "x" ++ fail("boom")', build_bindings(CONTEXT), OPTIONS)
    assert raised.value.line in (None, 1)


def test_the_rewrite_opens_no_way_out() -> None:
    for expr in ('output.type ++ dw::System::envVar("HOME")', 'x.type ++ readUrl("file:///etc/passwd")',
                 '"$(output.type)" ++ dw::Runtime::prop("user.home")'):
        errors = compile_check("dataweave", expr)
        assert errors and errors[0].kind == "forbidden", expr


def test_a_context_key_cannot_shadow_the_output_binding() -> None:
    bindings = build_bindings({OUTPUT_NAME: "spoofed", "n": 1}, output={"status": "real"})
    assert OUTPUT_NAME not in context_aliases(bindings)
    assert evaluate("dataweave", "output.status", bindings, OPTIONS) == "real"


def test_validate_accepts_the_documented_forms(tmp_path: Path) -> None:
    path = tmp_path / "reserved.journey.yaml"
    path.write_text("""\
apiVersion: v1
kind: Journey
metadata: {name: reserved-names, version: 0.1.0}
spec:
  start: route
  states:
    route:
      type: choice
      choices:
        - when:
            predicate: {lang: dataweave, expr: 'context.api.error.type == "TIMEOUT" or api.error.type == "X"'}
          next: done
      default: done
    done:
      type: succeed
""")
    findings = [d for d in lint_file(path) if d.rule.startswith("expression")]
    assert findings == []
