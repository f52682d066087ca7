"""Machine formats pinned by golden files (regenerate with JCTL_UPDATE_GOLDEN=1)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from jctl.diagnostics import Diagnostic, Severity
from jctl.lint import LintReport
from jctl.render import GithubFormatter, JsonFormatter, SarifFormatter

GOLDEN = Path(__file__).parent / "cases" / "golden"


def sample_report() -> LintReport:
    return LintReport(
        files=[Path("flows/order.journey.yaml"), Path("flows/order.openapi.yaml")],
        diagnostics=[
            Diagnostic("flows/order.journey.yaml", 12, 15, "unknown-state", Severity.ERROR,
                       "`next` points at `shipit`, which is not a state in spec.states",
                       "did you mean `ship`?", "spec.states.pay.next"),
            Diagnostic("flows/order.journey.yaml", 30, 5, "unreachable-state", Severity.WARNING,
                       "state `legacy` is never reached from `start`", "remove it or add a transition to it",
                       "spec.states.legacy"),
            Diagnostic("flows/a,b:c.journey.yaml", 1, 1, "yaml-syntax", Severity.ERROR,
                       "100% broken\nsecond line", ""),
        ],
    )


@pytest.mark.parametrize(("formatter", "golden"), [
    (JsonFormatter(), "report.json"),
    (SarifFormatter(), "report.sarif"),
    (GithubFormatter(), "report.github.txt"),
])
def test_format_matches_golden(formatter, golden):
    rendered = pinned_part(formatter.render(sample_report()), golden) + "\n"
    target = GOLDEN / golden
    if os.environ.get("JCTL_UPDATE_GOLDEN"):
        target.write_text(rendered, encoding="utf-8")
    assert rendered == target.read_text(encoding="utf-8")


def pinned_part(rendered: str, golden: str) -> str:
    """The SARIF rule catalogue grows with every rule (tested below); the golden pins everything else."""
    if not golden.endswith(".sarif"):
        return rendered
    document = json.loads(rendered)
    driver = document["runs"][0]["tool"]["driver"]
    ids = [rule["id"] for rule in driver["rules"]]
    driver["rules"] = [rule for rule in driver["rules"] if rule["id"] in ("unknown-state", "yaml-syntax")]
    for result in document["runs"][0]["results"]:
        result["ruleIndex"] = ids[result["ruleIndex"]] if "ruleIndex" in result else None
    return json.dumps(document, indent=2)


def test_json_shape():
    document = json.loads(JsonFormatter().render(sample_report()))
    assert document["files"] == 2
    assert document["summary"] == {"errors": 2, "warnings": 1}
    assert set(document["diagnostics"][0]) == {"file", "line", "column", "path", "rule", "severity", "message", "hint"}
    assert document["diagnostics"][0]["path"] == "spec.states.pay.next"


def test_diagnostics_carry_the_document_path_of_the_node() -> None:
    from jctl.diagnostics import path_text
    from jctl.lint import lint_file

    assert path_text(("workflows", 0, "steps", 1, "outputs", "jobId")) == "workflows[0].steps[1].outputs.jobId"
    assert path_text(("paths", "/items/{id}", "get")) == 'paths["/items/{id}"].get'
    fixture = Path(__file__).parent / "cases" / "crossfile" / "broken" / "expressions.arazzo.yaml"
    paths = {d.line: d.path for d in lint_file(fixture)}
    assert paths[36] == "workflows[0].steps[0].outputs.journeyId"
    sarif = json.loads(SarifFormatter().render(sample_report()))
    logical = sarif["runs"][0]["results"][0]["locations"][0]["logicalLocations"]
    assert logical == [{"fullyQualifiedName": "spec.states.pay.next", "kind": "member"}]


def test_sarif_describes_every_rule_and_indexes_results():
    from jctl.diagnostics import RULES

    document = json.loads(SarifFormatter().render(sample_report()))
    run = document["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert document["version"] == "2.1.0"
    assert {rule["id"] for rule in rules} == set(RULES)
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]


def test_github_escapes_workflow_command_syntax():
    lines = GithubFormatter().render(sample_report()).splitlines()
    assert lines[0].startswith("::error file=flows/order.journey.yaml,line=12,col=15,title=unknown-state::")
    assert lines[1].startswith("::warning ")
    assert "file=flows/a%2Cb%3Ac.journey.yaml" in lines[2]
    assert lines[2].endswith("::100%25 broken%0Asecond line")
