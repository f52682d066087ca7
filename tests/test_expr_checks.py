"""Validate rules for expressions, through the real lint pipeline and engines: each finding lands on the line
and column inside the expression."""

from __future__ import annotations

from pathlib import Path

import pytest

from jctl.lint import lint_file

OWN = {"expression-syntax", "expression-forbidden", "expression-dialect", "predicate-not-boolean"}

JOURNEY = """\
apiVersion: v1
kind: Journey
metadata:
  name: expressions
  version: 0.1.0
spec:
  mappers:
    broken:
      lang: dataweave
      expr: |
        {
          a: context.a,
          b: nope(1)
        }
  start: route
  states:
    route:
      type: choice
      choices:
        - when:
            predicate:
              lang: dataweave
              expr: |
                if (context.a > 1) then true else false
          next: shape
        - when:
            predicate:
              lang: dataweave
              expr: "'yes'"
          next: shape
        - when:
            predicate:
              lang: jq
              expr: .context.a | foo
          next: shape
      default: shape
    shape:
      type: transform
      transform:
        mapper:
          lang: dataweave
          expr: |
            {
              status: context.api.status default: 500,
              kind: context.error.type,
              home: dw::System::envVar("HOME"),
              fine: jobStart.body.jobId
            }
        target:
          kind: var
        resultVar: shaped
      next: done
    done:
      type: succeed
"""


@pytest.fixture
def findings(tmp_path: Path) -> set[tuple[str, int, int]]:
    path = tmp_path / "expressions.journey.yaml"
    path.write_text(JOURNEY)
    return {(d.rule, d.line, d.column) for d in lint_file(path) if d.rule in OWN}


def test_findings_point_inside_the_expressions(findings: set[tuple[str, int, int]]) -> None:
    assert findings == {
        ("expression-syntax", 13, 14),       # nope(1) in the block scalar of spec.mappers.broken
        ("expression-dialect", 24, 36),      # `then` after `if (...)`
        ("predicate-not-boolean", 29, 22),   # a quoted literal string (inside the quote)
        ("expression-syntax", 34, 34),       # jq: foo/0 is not defined (plain scalar)
        ("expression-dialect", 44, 42),      # default: 500
        ("expression-forbidden", 46, 21),    # dw::System::envVar
    }


def test_clean_expressions_have_no_findings(tmp_path: Path) -> None:
    path = tmp_path / "ok.journey.yaml"
    path.write_text(JOURNEY.split("  start: route")[0].replace("nope(1)", "sizeOf([1])") + """\
  start: done
  states:
    done:
      type: succeed
""")
    assert [d for d in lint_file(path) if d.rule in OWN] == []


def test_corpus_expressions(corpus_dir: Path) -> None:
    """The corpus compiles except for what we know it gets wrong; no forbidden constructs anywhere."""
    rules: dict[str, int] = {}
    for path in sorted(corpus_dir.rglob("*.journey.yaml")):
        for diagnostic in lint_file(path):
            if diagnostic.rule in OWN:
                rules[diagnostic.rule] = rules.get(diagnostic.rule, 0) + 1
    assert "expression-forbidden" not in rules
    assert "expression-syntax" not in rules  # `context.api.error.type` (http-timeout-branch) runs as written
