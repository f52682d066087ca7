"""The journey DSL JSON Schema and the `schema` rule: fixtures under tests/cases/schema (valid ones yield nothing,
invalid ones exactly their `# expect: schema <line>` lines), messages people can act on, and the corpus."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jctl.checks import SpecFile, Workspace
from jctl.checks.dsl_schema import load_schema, schema_validator
from jctl.checks.schema import check_schema
from jctl.diagnostics import Finding
from jctl.spec.loader import LoadedDocument, load_document, parse_document

REPO = Path(__file__).resolve().parents[1]
CASES = Path(__file__).parent / "cases" / "schema"
EXPECT = re.compile(r"^#\s*expect:\s*(\S+)\s+(\d+)\s*$", re.MULTILINE)

# Every schema finding on the corpus, judged against the reference (see the report): all are real drift.
CORPUS_DRIFT = {
    # parallel states used as the last state of a machine; the reference requires `next` after the join (§16)
    ("kyc-async-timeout-fallback.journey.yaml", 104, "missing required field `next` in parallel state"),
    ("support-case-sla.journey.yaml", 85, "missing required field `next` in parallel state"),
    # backoff is {kind, baseDelayMs, maxDelayMs, jitter} (§13)
    ("http-resilience-degrade.journey.yaml", 51, "unknown field `initialDelayMs` in backoff"),
    ("http-resilience-degrade.journey.yaml", 53, "unknown field `factor` in backoff"),
}
# `params` maps OpenAPI path/query/header parameters only; the body goes in task.body (§5.1): one misplaced-field
# finding each, in place of the schema's "unknown field `body` in params"
CORPUS_MISPLACED = {
    ("http-compensation.journey.yaml", 74, "`body` belongs beside `params`, not inside it"),
    ("http-compensation.journey.yaml", 91, "`body` belongs beside `params`, not inside it"),
}


def schema_findings(document: LoadedDocument) -> list[tuple[int, Finding]]:
    spec = SpecFile("journey", document, Workspace())
    return [(document.source_map.line_col(f.path, f.at)[0], f) for f in check_schema(spec)]


def lines_of(path: Path) -> Counter[int]:
    return Counter(line for line, _ in schema_findings(load_document(path)))


def findings_for_text(text: str) -> list[tuple[int, Finding]]:
    return schema_findings(parse_document(text, CASES / "inline.journey.yaml"))


def fixtures(kind: str) -> list[Path]:
    return sorted((CASES / kind).glob("*.journey.yaml"))


def test_schema_is_a_valid_2020_12_schema() -> None:
    from jsonschema import Draft202012Validator

    schema = json.loads((REPO / "specs" / "journey-dsl-v1.schema.json").read_text())
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == "https://journeyforge.dev/schemas/journey-dsl-v1.schema.json"
    assert schema["title"]


def test_packaged_schema_is_the_spec_file() -> None:
    packaged = REPO / "jctl" / "data" / "journey-dsl-v1.schema.json"
    assert packaged.read_text() == (REPO / "specs" / "journey-dsl-v1.schema.json").read_text()
    assert load_schema()["$id"].endswith("journey-dsl-v1.schema.json")


@pytest.mark.parametrize("path", fixtures("valid"), ids=lambda p: p.name.removesuffix(".journey.yaml"))
def test_valid_fixture_has_no_findings(path: Path) -> None:
    assert [(line, f.message) for line, f in schema_findings(load_document(path))] == []


@pytest.mark.parametrize("path", fixtures("invalid"), ids=lambda p: p.name.removesuffix(".journey.yaml"))
def test_invalid_fixture_yields_exactly_its_expectations(path: Path) -> None:
    expected = Counter(int(line) for rule, line in EXPECT.findall(path.read_text()) if rule == "schema")
    assert expected, f"{path.name} declares no `# expect: schema <line>`"
    assert lines_of(path) == expected


def test_valid_fixtures_cover_every_state_type_and_task_kind() -> None:
    schema = load_schema()
    state_types = set(schema["$defs"]["state"]["properties"]["type"]["enum"])
    task_kinds = {
        name.removesuffix("Task") for name in schema["$defs"] if name.endswith("Task")
    }
    seen_types: set[str] = set()
    seen_kinds: set[str] = set()
    for path in fixtures("valid"):
        for node in walk(load_document(path).data):
            if isinstance(node.get("type"), str):
                seen_types.add(node["type"])
            task = node.get("task")
            if node.get("type") == "task" and isinstance(task, dict):
                seen_kinds.add(str(task.get("kind")).split(":")[0])
    assert state_types <= seen_types
    assert task_kinds <= seen_kinds


def walk(node: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    pending = [node]
    while pending:
        current = pending.pop()
        if isinstance(current, dict):
            found.append(current)
            pending.extend(current.values())
        elif isinstance(current, list):
            pending.extend(current)
    return found


def test_through_the_pipeline_schema_diagnostics_land_on_the_expected_lines() -> None:
    from jctl.lint import lint_file

    path = CASES / "invalid" / "unknown-field-typo.journey.yaml"
    found = sorted((d.line, d.column) for d in lint_file(path) if d.rule == "schema")
    assert found == [(16, 9), (18, 7)]


MINIMAL = """\
apiVersion: v1
kind: Journey
metadata:
  name: minimal
  version: 1.0.0
spec:
  start: pause
  states:
    pause:
      type: wait
      wait:
        input:
          schema:
            type: object
        timeoutSecs: 60
        onTimeout: done
      next: done
    done:
      type: succeed
"""


def test_unknown_field_names_the_key_and_suggests_the_allowed_one() -> None:
    [(line, finding)] = findings_for_text(MINIMAL)
    assert line == 15
    assert finding.message == "unknown field `timeoutSecs` in wait; did you mean `timeoutSec`?"
    assert finding.path == ("spec", "states", "pause", "wait", "timeoutSecs") and finding.at == "key"
    assert "timeoutSec" in finding.hint and "onTimeout" in finding.hint


def test_a_misspelt_required_field_is_reported_once() -> None:
    text = MINIMAL.replace("timeoutSecs: 60", "timeoutSec: 60").replace("      next: done", "      nxt: done")
    messages = [finding.message for _, finding in findings_for_text(text)]
    assert messages == ["unknown field `nxt` in wait state; did you mean `next`?"]


def test_enum_lists_the_allowed_values_and_suggests_one() -> None:
    text = MINIMAL.replace("timeoutSecs: 60", "timeoutSec: 60").replace("type: succeed", "type: suceed")
    [(line, finding)] = findings_for_text(text)
    assert line == 19
    assert '"succeed"' in finding.message and '"fail"' in finding.message
    assert finding.hint == "did you mean `succeed`?"


def test_missing_required_field_points_at_the_parent_key() -> None:
    text = MINIMAL.replace("timeoutSecs: 60", "timeoutSec: 60").replace(
        "      wait:\n        input:\n          schema:\n            type: object\n", "      wait:\n"
    )
    [(line, finding)] = findings_for_text(text)
    assert finding.message == "missing required field `input` in wait"
    assert (line, finding.at) == (11, "key")


def test_legacy_default_in_the_block_stands_in_for_next() -> None:
    text = MINIMAL.replace("timeoutSecs: 60", "timeoutSec: 60").replace(
        "        onTimeout: done\n      next: done", "        onTimeout: done\n        default: done"
    )
    assert findings_for_text(text) == []
    without_either = text.replace("        default: done\n", "")
    [(line, finding)] = findings_for_text(without_either)
    assert (line, finding.message) == (9, "wait state needs `next` (the state to continue to after a submission)")


def test_one_of_failures_report_the_nested_error_of_the_intended_shape() -> None:
    text = MINIMAL.replace("timeoutSecs: 60", "timeoutSec: 60").replace(
        "type: succeed", "type: timer\n      timer:\n        duration:\n          mapper:\n            lang: jq\n"
        "      next: done"
    )
    messages = [finding.message for _, finding in findings_for_text(text)]
    assert messages == ["missing required field `expr` in expression"]


def test_documents_that_are_not_journeys_are_skipped() -> None:
    limits = "apiVersion: v1\nkind: MetadataLimits\nmetadata:\n  name: limits\nspec:\n  definitionTags: {}\n"
    openapi = "openapi: 3.1.0\ninfo:\n  title: x\n  version: 1.0.0\npaths: {}\n"
    assert findings_for_text(limits) == []
    assert findings_for_text(openapi) == []
    assert findings_for_text("apiVersion: v1\nkind: Jouney\n")  # a misspelt kind is still checked


def test_fast_dispatch_gives_the_same_errors_as_plain_2020_12() -> None:
    from jsonschema import Draft202012Validator

    plain = Draft202012Validator(load_schema())
    corpus = REPO.parent / "shared" / "corpus"
    paths = [*fixtures("valid"), *fixtures("invalid"), *sorted(corpus.rglob("*.journey.yaml"))]
    for path in paths:
        data = load_document(path).data

        def errors(validator: Any) -> list[tuple[Any, ...]]:
            return sorted((list(e.absolute_path), e.message) for e in validator.iter_errors(data))

        assert errors(schema_validator()) == errors(plain), path.name


def test_corpus_journeys_validate_with_only_the_judged_drift(corpus_dir: Path) -> None:
    found = set()
    for path in sorted(corpus_dir.rglob("*.journey.yaml")):
        for line, finding in schema_findings(load_document(path)):
            found.add((path.name, line, finding.message))
    assert found == CORPUS_DRIFT


def test_corpus_misplaced_fields_are_one_finding_each(corpus_dir: Path) -> None:
    from jctl.checks.placement import check_misplaced_fields

    found = set()
    for path in sorted(corpus_dir.rglob("*.journey.yaml")):
        document = load_document(path)
        for finding in check_misplaced_fields(SpecFile("journey", document, Workspace())):
            line = document.source_map.line_col(finding.path, finding.at)[0]
            found.add((path.name, line, finding.message.split(" (")[0]))
    assert found == CORPUS_MISPLACED


def test_importing_the_check_does_not_import_jsonschema() -> None:
    code = "import sys, jctl.checks.schema; print('jsonschema' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert result.stdout.strip() == "False"


SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.sampled_from(["", "x", "task", "PT5M", "v1"]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_fixtures_never_crash_and_findings_point_into_the_document(data: st.DataObject) -> None:
    path = data.draw(st.sampled_from(fixtures("valid")))
    document = load_document(path)
    nodes = [node for node in walk(document.data) if node]
    target = data.draw(st.sampled_from(nodes))
    key = data.draw(st.sampled_from(sorted(target)))
    if data.draw(st.booleans()):
        del target[key]
    else:
        target[key] = data.draw(SCALARS)
    for line, finding in schema_findings(document):
        assert 1 <= line <= document.text.count("\n") + 1
        assert finding.message and "\n" not in finding.message
