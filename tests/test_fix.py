"""`--fix` rewrites DataWeave slips and the legacy wait/webhook `default:` in place, keeping comments and layout."""

from __future__ import annotations

import shutil
from datetime import datetime, timezone
from pathlib import Path

from jctl.expr import EvalOptions, evaluate
from jctl.expr.dw_dialect import apply_slips, find_slips
from jctl.fix import fix_file
from jctl.lint import lint_file
from jctl.spec.loader import load_document

FIXTURE = """\
apiVersion: v1
kind: Journey
metadata:
  name: slips
  version: 0.1.0
spec:
  start: hold
  states:
    hold:
      type: wait   # a comment that must survive
      wait:
        channel: manual
        input:
          schema:
            type: object
        default: shape   # legacy spelling of next
    shape:
      type: transform
      transform:
        mapper:
          lang: dataweave
          expr: |
            {
              // keep this comment
              big: if (context.n > 1) then "yes" else "no",
              status: context.api.status default: 500,
              kind: context.error.type,
              some: context.items any ((x) -> x > 2),
              every: all(context.items, (x) -> x > 0)
            }
        target:
          kind: var
        resultVar: shaped
      next: check
    check:
      type: choice
      choices:
        - when:
            predicate:
              lang: dataweave
              expr: "(context.missing default: 0) == 0"
          next: done
      default: done
    done:
      type: succeed
"""


def test_find_and_apply_slips_in_an_expression() -> None:
    expr = "if (a) then 1 else if (b) then 2 else 3"
    assert apply_slips(expr, find_slips(expr)) == "if (a) 1 else if (b) 2 else 3"
    assert find_slips('"if (x) then y default: 1" ++ x."type"') == []  # strings and quoted selectors are fine
    assert find_slips("{default: 1}")[0].replacement is None  # a key: quoting is a human decision


def test_fix_file_rewrites_in_place(tmp_path: Path) -> None:
    path = tmp_path / "slips.journey.yaml"
    path.write_text(FIXTURE)
    result = fix_file(path)
    assert result.changed and len(result.fixes) == 6, result
    text = path.read_text()
    assert "next: shape   # legacy spelling of next" in text
    assert "# a comment that must survive" in text and "// keep this comment" in text
    assert "then" not in text and "default:" not in text.split("check:")[0].split("shape:")[1]
    assert "context.error.type" in text and "dw::core::Arrays::some" in text and "dw::core::Arrays::every(" in text
    document = load_document(path)
    hold = document.data["spec"]["states"]["hold"]
    assert hold["next"] == "shape" and "default" not in hold["wait"]
    assert [d for d in lint_file(path) if d.rule in ("expression-dialect", "expression-syntax", "legacy-next")] == []
    mapper = document.data["spec"]["states"]["shape"]["transform"]["mapper"]["expr"]
    context = {"n": 2, "api": {}, "error": {"type": "T"}, "items": [1, 3]}
    value = evaluate("dataweave", mapper, {"context": context}, EvalOptions(now=datetime.now(timezone.utc)))
    assert value == {"big": "yes", "status": 500, "kind": "T", "some": True, "every": True}
    assert fix_file(path).changed is False


def test_fix_leaves_broken_files_alone(tmp_path: Path) -> None:
    path = tmp_path / "broken.journey.yaml"
    path.write_text("spec: [unclosed\n")
    result = fix_file(path)
    assert not result.changed and result.skipped and path.read_text() == "spec: [unclosed\n"


def test_fix_corpus_copies(corpus_dir: Path, tmp_path: Path) -> None:
    names = ("sync-wrapper-wait", "kyc-async-timeout-fallback", "b2b-purchase-order")
    for name in names:
        source = next(corpus_dir.rglob(f"{name}.journey.yaml"))
        copy = tmp_path / source.name
        shutil.copy(source, copy)
        before = {d.rule for d in lint_file(copy)}
        result = fix_file(copy)
        assert result.changed, name
        after = [d for d in lint_file(copy) if d.rule in ("expression-dialect", "legacy-next")]
        assert after == [], (name, after)
        assert before - {"expression-dialect", "legacy-next"} >= {d.rule for d in lint_file(copy)} - before
        original_lines = source.read_text().count("\n")
        assert copy.read_text().count("\n") == original_lines  # moved lines, nothing re-dumped


def test_a_default_inside_a_flow_mapping_or_conflicting_with_next_is_left_and_reported(tmp_path: Path) -> None:
    """Deleting the `default:` line of `webhook: {..., default: done}` used to delete the whole webhook block."""
    from conftest import run_jctl

    text = FIXTURE.split("  states:\n")[0] + """\
  states:
    hold:
      type: webhook
      webhook: {input: {schema: {type: object}}, default: done}
    ask:
      type: wait
      wait:
        channel: manual
        input:
          schema:
            type: object
        default: hold
      next: done
    done:
      type: succeed
"""
    path = tmp_path / "flow.journey.yaml"
    path.write_text(text)
    result = run_jctl("validate", "--fix", str(path))
    assert path.read_text() == text
    assert "webhook.default is inside a flow mapping; move it by hand" in result.stderr
    assert "wait.default 'hold' conflicts with next 'done'" in result.stderr
    conflict = [d for d in lint_file(path) if d.rule == "legacy-next" and "conflicts" in d.message]
    assert len(conflict) == 1 and "the runner follows `next`" in conflict[0].message


ARAZZO = """\
arazzo: 1.0.1
info: {title: fix me, version: 0.1.0}
sourceDescriptions:
  - {name: api, type: openapi, url: https://example.test/openapi.yaml}
workflows:
  - workflowId: flow
    steps:
      - stepId: start
        operationId: start
        requestBody:
          payload: {note: "for {$response.body.owner.name}"}   # embedded
        successCriteria:
          - condition: $statusCode == 200 && $response.body.ok == true
        outputs:
          jobId: $response.body.jobId    # keep this comment
          first: '$response.body.items[0].id'
          odd: $response.body.a b
"""


def test_fix_rewrites_dotted_body_reads_as_json_pointers(tmp_path: Path) -> None:
    from conftest import run_jctl

    path = tmp_path / "flow.arazzo.yaml"
    path.write_text(ARAZZO)
    before = run_jctl("validate", "--format", "json", str(path))
    assert before.stdout.count("arazzo-body-pointer") == 5
    result = run_jctl("validate", "--fix", str(path))
    text = path.read_text()
    assert "for {$response.body#/owner/name}\"}   # embedded" in text
    assert "$statusCode == 200 && $response.body#/ok == true" in text
    assert "jobId: $response.body#/jobId    # keep this comment" in text
    assert "first: '$response.body#/items/0/id'" in text
    assert "odd: $response.body.a b" in text and "write its pointer by hand" in result.stderr
    after = run_jctl("validate", "--format", "json", str(path))
    assert after.stdout.count("arazzo-body-pointer") == 1
    assert text.replace("#/", ".").replace(".items/0/id", ".items[0].id").replace(".owner/name", ".owner.name") \
        == ARAZZO


def test_fix_corpus_arazzo_copies(corpus_dir: Path, tmp_path: Path) -> None:
    sources = sorted(corpus_dir.rglob("*.arazzo.yaml"))
    assert sources
    for source in sources:
        copy = tmp_path / source.parent.name / source.name
        copy.parent.mkdir(exist_ok=True)
        shutil.copy(source, copy)
        before = [d.rule for d in lint_file(copy)]
        fix_file(copy, "arazzo")
        after = [d.rule for d in lint_file(copy)]
        assert "arazzo-body-pointer" not in after, source.name
        assert [r for r in after if r != "arazzo-body-pointer"] == [r for r in before if r != "arazzo-body-pointer"]
        assert copy.read_text().count("\n") == source.read_text().count("\n")


MISPLACED = """\
apiVersion: v1
kind: Journey
metadata:
  name: misplaced
  version: 0.1.0
spec:
  start: shape
  states:
    shape:
      type: transform
      resultVar: summary   # written before the block it belongs to
      transform:
        mapper:
          lang: jq
          expr: "{ total: .context.amount }"
        target:
          kind: var
      next: review
    review:
      type: wait
      wait:
        channel: manual
        next: done   # inside `wait:` instead of beside it
        input:
          schema:
            type: object
    done:
      type: succeed
"""


def test_fix_moves_misplaced_fields_where_they_belong(tmp_path: Path) -> None:
    path = tmp_path / "misplaced.journey.yaml"
    path.write_text(MISPLACED)
    assert {d.rule for d in lint_file(path)} == {"misplaced-field"}
    result = fix_file(path)
    assert result.changed and len(result.fixes) == 2
    assert any("`resultVar` to `spec.states.shape.transform.resultVar`" in fix for fix in result.fixes)
    assert lint_file(path) == []
    text = path.read_text()
    assert "        resultVar: summary   # written before the block it belongs to\n      next: review" in text
    assert "            type: object\n      next: done   # inside `wait:` instead of beside it\n    done:" in text
    assert load_document(path).data["spec"]["states"]["shape"]["transform"]["resultVar"] == "summary"


def test_a_misplaced_field_in_a_flow_mapping_is_reported_not_moved(tmp_path: Path) -> None:
    path = tmp_path / "flow.journey.yaml"
    text = MISPLACED.replace(
        "      wait:\n        channel: manual\n        next: done   # inside `wait:` instead of beside it\n"
        "        input:\n          schema:\n            type: object\n",
        "      wait: {channel: manual, next: done, input: {schema: {type: object}}}\n")
    path.write_text(text)
    result = fix_file(path)
    assert len(result.fixes) == 1 and any("flow style" in reason for reason in result.skipped)
    assert [d.rule for d in lint_file(path) if d.rule != "flow-style"] == ["misplaced-field"]


def test_several_fields_moved_into_one_block_keep_their_order(tmp_path: Path) -> None:
    path = tmp_path / "task.journey.yaml"
    path.write_text(
        "apiVersion: v1\nkind: Journey\nmetadata:\n  name: call\n  version: 0.1.0\nspec:\n  start: call\n"
        "  states:\n    call:\n      type: task\n      task:\n        kind: httpCall:v1\n        method: GET\n"
        "        url: https://api.example.com/items\n      resultVar: items   # the call's result\n"
        "      timeoutMs: 500\n      next: done\n    done:\n      type: succeed\n")
    assert [d.rule for d in lint_file(path)] == ["misplaced-field", "misplaced-field"]
    assert len(fix_file(path).fixes) == 2
    assert lint_file(path) == []
    assert ("        url: https://api.example.com/items\n        resultVar: items   # the call's result\n"
            "        timeoutMs: 500\n      next: done\n") in path.read_text()


def test_a_state_nested_in_another_moves_out_beside_it(tmp_path: Path) -> None:
    path = tmp_path / "nested.journey.yaml"
    path.write_text(
        "apiVersion: v1\nkind: Journey\nmetadata:\n  name: nested\n  version: 0.1.0\nspec:\n  start: ask\n"
        "  states:\n    ask:\n      type: wait\n      wait:\n        channel: manual\n        input:\n"
        "          schema:\n            type: object\n      decide:   # indented one level too deep\n"
        "        type: succeed\n      next: decide\n")
    assert [d.rule for d in lint_file(path)] == ["misplaced-state"]
    [message] = fix_file(path).fixes
    assert "state `decide` out of state `ask`" in message
    assert lint_file(path) == []
    assert path.read_text().endswith("      next: decide\n    decide:   # indented one level too deep\n"
                                      "      type: succeed\n")


BODY_IN_PARAMS = (
    "apiVersion: v1\nkind: Journey\nmetadata:\n  name: post\n  version: 0.1.0\nspec:\n  start: call\n"
    "  states:\n    call:\n      type: task\n      task:\n        kind: httpCall:v1\n        method: POST\n"
    "        url: https://api.example.com/items\n        params:\n          body:\n            mapper:\n"
    "              lang: jsonata\n              expr: '{\"id\": id}'\n        resultVar: created\n"
    "      next: done\n    done:\n      type: succeed\n")


def test_a_block_left_empty_by_a_move_goes_with_it(tmp_path: Path) -> None:
    """`params:` holding only a misplaced `body` would be null after the move; a block holding more stays."""
    path = tmp_path / "body.journey.yaml"
    path.write_text(BODY_IN_PARAMS)
    assert [d.rule for d in lint_file(path)] == ["misplaced-field"]
    assert len(fix_file(path).fixes) == 1
    assert lint_file(path) == []
    text = path.read_text()
    assert "params" not in text
    assert ("        url: https://api.example.com/items\n        body:\n          mapper:\n            lang: jsonata\n"
            "            expr: '{\"id\": id}'\n        resultVar: created\n") in text
    kept = tmp_path / "kept.journey.yaml"
    kept.write_text(BODY_IN_PARAMS.replace("        params:\n", "        params:\n          headers: {X-Id: '1'}\n"))
    assert "misplaced-field" in {d.rule for d in lint_file(kept)}
    fix_file(kept)
    assert "        params:\n          headers: {X-Id: '1'}\n" in kept.read_text()
