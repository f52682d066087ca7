"""OpenAPI files in their own right: `$ref` resolution, operationIds, path parameters, examples and defaults, success
responses. One fixture per rule under tests/cases/rules (`*.openapi.yaml`) with `# expect: <rule-id> <line>` lines;
and inputs that must end in a diagnostic, never a crash or a hang."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from jctl.checks import CHECKS, SpecFile, Workspace, load_checks
from jctl.lint import lint_file, lint_paths
from jctl.spec.loader import load_document
from conftest import run_jctl, with_wrong_types

CASES = Path(__file__).parent / "cases" / "rules"
MODULES = ("jctl.checks.openapi_refs", "jctl.checks.openapi_rules", "jctl.checks.openapi_examples")
EXPECT = re.compile(r"^#\s*expect:\s*(\S+)\s+(\d+)\s*$", re.MULTILINE)
FIXTURES = sorted(CASES.glob("*.openapi.yaml"))


def our_checks() -> list[Any]:
    load_checks()
    return [registered for registered in CHECKS if registered.function.__module__ in MODULES]


def our_rules() -> set[str]:
    return {registered.rule for registered in our_checks()} | {"openapi-default-mismatch"}


def expected(path: Path) -> Counter[tuple[str, int]]:
    return Counter((rule, int(line)) for rule, line in EXPECT.findall(path.read_text(encoding="utf-8")))


def produced(path: Path, workspace: Workspace | None = None) -> Counter[tuple[str, int]]:
    return Counter((d.rule, d.line) for d in lint_file(path, workspace or Workspace()) if d.rule in our_rules())


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda p: p.name.removesuffix(".openapi.yaml"))
def test_fixture_yields_exactly_its_expectations(fixture: Path) -> None:
    assert produced(fixture) == expected(fixture)


def test_every_rule_has_a_fixture_that_triggers_it() -> None:
    covered = {rule for fixture in FIXTURES for rule, _ in expected(fixture)}
    assert our_rules() <= covered
    for registered in our_checks():
        assert (CASES / f"{registered.rule}.openapi.yaml").is_file(), registered.rule


def test_clean_fixture_is_clean_under_every_rule() -> None:
    assert [d for d in lint_file(CASES / "openapi-clean.openapi.yaml", Workspace())] == []


def test_findings_say_how_to_fix_and_carry_the_document_path() -> None:
    for fixture in FIXTURES:
        for diagnostic in lint_file(fixture, Workspace()):
            if diagnostic.rule in our_rules():
                assert diagnostic.hint and diagnostic.path, (fixture.name, diagnostic)


def test_duplicate_operation_id_names_the_first_line() -> None:
    found = [d for d in lint_file(CASES / "openapi-duplicate-operation-id.openapi.yaml")
             if d.rule == "openapi-duplicate-operation-id"]
    assert found and all("already used on line 10" in d.message for d in found)
    assert found[0].path == 'paths["/archived-orders"].get.operationId'


def test_openapi_30_nullable_and_31_null_type_accept_null() -> None:
    messages = [d.message for d in lint_file(CASES / "openapi-example-mismatch-30.openapi.yaml")]
    assert any("properties.note" in m and "null" in m for m in messages)  # not nullable: refused
    assert not any("properties.discount" in m or "properties.currency" in m for m in messages)
    assert not any("nullTotal" in m for m in lint_file_messages(CASES / "openapi-example-mismatch.openapi.yaml"))


def lint_file_messages(path: Path) -> list[str]:
    return [d.message for d in lint_file(path, Workspace())]


def test_a_ref_cycle_is_one_finding_and_a_recursive_schema_none() -> None:
    found = [d for d in lint_file(CASES / "openapi-ref.openapi.yaml") if "loop" in d.message]
    assert len(found) == 1 and "Alias" in found[0].message and "Other" in found[0].message
    assert not any("Tree" in m for m in lint_file_messages(CASES / "openapi-ref.openapi.yaml"))


def test_each_referenced_file_is_loaded_once_per_run(tmp_path: Path) -> None:
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / "pet.yaml").write_text((CASES / "openapi-parts" / "pet.yaml").read_text())
    for name in ("a", "b"):
        (tmp_path / f"{name}.openapi.yaml").write_text(f"""\
openapi: 3.1.0
info: {{title: {name}, version: 1.0.0}}
paths:
  /pets:
    get:
      responses:
        "200":
          description: Pets
          content:
            application/json:
              schema:
                $ref: "parts/pet.yaml#/Pet"
""")
    workspace = Workspace()
    lint_file(tmp_path / "a.openapi.yaml", workspace)
    part = workspace.load(tmp_path / "parts" / "pet.yaml")
    lint_file(tmp_path / "b.openapi.yaml", workspace)
    assert workspace.load(tmp_path / "parts" / "pet.yaml") is part
    assert sum(1 for path in workspace.loaded_paths() if path.name == "pet.yaml") == 1


# --- inputs that must give a diagnostic, never a traceback or a hang ---------------------------------------------

HOSTILE = CASES.parent / "hostile"
HOSTILE_FIXTURES = sorted(p for p in HOSTILE.iterdir() if p.name != "ref-loop-part.yaml")
# JSON has no comments: the expectations of JSON fixtures are written here
JSON_EXPECTATIONS = {"swagger-2.json": Counter({("openapi-invalid", 1): 1})}


@pytest.mark.parametrize("fixture", HOSTILE_FIXTURES, ids=lambda p: p.name)
def test_hostile_inputs_are_diagnostics_through_the_cli(fixture: Path) -> None:
    """A file that is no spec, Swagger 2.0, a loop of `$ref`s across files, a missing file, an Arazzo source that
    is not there: each is its diagnostics at its line, exit code 1, never a traceback."""
    result = run_jctl("validate", str(fixture), "--format", "json")
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    found = Counter((d["rule"], d["line"]) for d in json.loads(result.stdout)["diagnostics"])
    assert found == JSON_EXPECTATIONS.get(fixture.name) or found == expected(fixture)


def test_a_ten_megabyte_document_is_refused_with_its_size(tmp_path: Path) -> None:
    paths = {f"/items{i}/{{id}}": {"get": {"operationId": f"get{i}", "responses": {"200": {"description": "x" * 80}}}}
             for i in range(60_000)}
    big = tmp_path / "big.openapi.json"
    big.write_text(json.dumps({"openapi": "3.1.0", "info": {"title": "big", "version": "1"}, "paths": paths}))
    assert big.stat().st_size > 10 * 1024 * 1024
    result = run_jctl("validate", str(big), "--format", "json")
    assert result.returncode == 1, result.stderr
    [diagnostic] = json.loads(result.stdout)["diagnostics"]
    assert "larger than 4 MB" in diagnostic["message"] and "Traceback" not in result.stderr


def test_ref_cycles_across_files_end(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("A:\n  $ref: 'b.yaml#/B'\n")
    (tmp_path / "b.yaml").write_text("B:\n  $ref: 'a.yaml#/A'\n")
    spec = tmp_path / "loop.openapi.yaml"
    spec.write_text("""\
openapi: 3.1.0
info: {title: loop, version: 1.0.0}
paths:
  /x/{id}:
    parameters:
      - $ref: "a.yaml#/A"
    get:
      responses:
        "200":
          description: ok
""")
    report = lint_paths([spec])
    rules = Counter(d.rule for d in report.diagnostics)
    assert rules["openapi-ref"] == 1 and "loop" in report.diagnostics[0].message
    assert rules["openapi-path-params"] == 0  # a parameter that cannot be read is not guessed at


REPLACEMENTS: tuple[Any, ...] = (None, "text", [1, "x"], {"$ref": 3}, {"$ref": "#/nowhere"})


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda p: p.name.removesuffix(".openapi.yaml"))
def test_checks_survive_wrong_types_at_every_node(fixture: Path) -> None:
    original = load_document(fixture)
    workspace = Workspace()
    runs = 0
    for _, document in with_wrong_types(original, REPLACEMENTS):
        for registered in our_checks():
            list(registered.function(SpecFile("openapi", document, workspace)))
            runs += 1
    assert runs > 100


@pytest.mark.parametrize("version", ["30", "31"])
def test_schema_errors_name_the_mistake_in_the_branch_the_file_meant(version: str) -> None:
    """`in: body` is a wrong `in` of a parameter, not a Reference Object lacking `$ref` (3.0's oneOf), and
    `type: oauth3` a wrong security scheme type; the fields of a scheme whose `in` is wrong are not unknown."""
    fixture = CASES.parent / "crossfile" / "broken" / f"schema-branches-{version}.openapi.yaml"
    found = [d for d in lint_file(fixture, Workspace()) if d.rule == "openapi-invalid"]
    messages = {d.path: d.message for d in found}
    parameter = 'paths["/items/{id}"].get.parameters[1].in'
    assert "`in` must be one of" in messages[parameter] and "`path`" in messages[parameter]
    assert "`body`" in messages[parameter]
    assert "must be one of" in messages["components.securitySchemes.oauth.type"]
    assert "`header`" in messages["components.securitySchemes.key.in"]
    assert not any("$ref" in message or "`name` is not a field" in message for message in messages.values())
    assert all(d.line > 1 and d.column > 1 for d in found)


def corpus_dir() -> Path:
    corpus = Path(__file__).resolve().parents[2] / "shared" / "corpus"
    if not corpus.is_dir():
        pytest.skip("the shared corpus is not present")
    return corpus


def test_corpus_findings_are_the_judged_ones() -> None:
    """On the third-party corpus the new rules find one real problem, nine times: the per-journey exports refer to
    `../../../openapi/journeys.openapi.yaml`, a file the corpus does not have. Everything else is silent."""
    files = sorted(corpus_dir().rglob("*.openapi.yaml"))
    workspace = Workspace()
    found = [d for path in files for d in lint_file(path, workspace) if d.rule in our_rules()]
    assert {d.rule for d in found} <= {"openapi-ref"}, found
    assert len(found) == 9 and all("openapi/journeys.openapi.yaml` is not a file" in d.message for d in found)


def test_openapi_31_schema_objects_are_checked_against_json_schema() -> None:
    fixture = CASES.parent / "crossfile" / "broken" / "schema-branches-31.openapi.yaml"
    found = {d.path: d for d in lint_file(fixture, Workspace()) if d.rule == "openapi-invalid"}
    wrong_type = found['paths["/items/{id}"].get.parameters[2].schema.type']
    assert "`type` must be one of" in wrong_type.message and "`strin`" in wrong_type.message
    assert wrong_type.line == 27 and wrong_type.column == 19


def test_json_and_sarif_carry_the_document_path() -> None:
    fixture = CASES / "openapi-path-params.openapi.yaml"
    as_json = run_jctl("validate", str(fixture), "--format", "json")
    paths = {(d["line"], d["path"]) for d in json.loads(as_json.stdout)["diagnostics"]}
    assert (13, 'paths["/orders/{orderId}/lines/{lineId}"].get') in paths
    assert (38, 'paths["/orders/{orderId}"].get.parameters[1].$ref') in paths, paths
    as_sarif = json.loads(run_jctl("validate", str(fixture), "--format", "sarif").stdout)
    names = {result["locations"][0]["logicalLocations"][0]["fullyQualifiedName"]
             for result in as_sarif["runs"][0]["results"]}
    assert 'paths["/orders/{orderId}/lines/{lineId}"].get' in names
    rules = {rule["id"] for rule in as_sarif["runs"][0]["tool"]["driver"]["rules"]}
    assert {"openapi-path-params", "openapi-ref", "openapi-example-mismatch"} <= rules


def test_an_example_no_alternative_accepts_is_reported_in_the_one_it_meant() -> None:
    found = [d for d in lint_file(CASES / "openapi-example-mismatch.openapi.yaml", Workspace())
             if "components.schemas.Payment" in d.message]
    assert len(found) == 1 and "'DE12' is too short" in found[0].message, found
    assert found[0].path == "components.schemas.Payment.example.iban"


def test_a_key_no_pattern_allows_is_reported_at_the_key() -> None:
    fixture = CASES.parent / "crossfile" / "broken" / "schema-branches-30.openapi.yaml"
    found = [d for d in lint_file(fixture, Workspace()) if "2000" in d.message]
    assert len(found) == 1 and found[0].path == 'paths["/items/{id}"].get.responses["2000"]'
    assert found[0].message.startswith("`2000` is not a field")
