"""`jctl test` through the CLI: scenario results, failures with expected/actual, schema errors, coverage, formats."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree

from tests.conftest import REPO, run_jctl

EXAMPLE = REPO / "specs" / "examples" / "expense-approval"


def _write(tmp_path: Path, body: str) -> Path:
    for name in ("expense-approval.journey.yaml", "expense-approval.mocks.yaml"):
        (tmp_path / name).write_text((EXAMPLE / name).read_text())
    path = tmp_path / "claims.scenario.yaml"
    path.write_text("journey: expense-approval.journey.yaml\nmocks: expense-approval.mocks.yaml\n" + body)
    return path


FAILING = """scenarios:
  - name: approve but expect a rejection
    input: { claimId: c-9, amount: 5 }
    steps:
      - signal: { payload: { decision: APPROVE, manager: bo } }
      - expect: { phase: FAILED, error: EXPENSE_REJECTED, published: [{ topic: claims }] }
"""


def test_failing_expectation_shows_expected_actual_and_last_transitions(tmp_path: Path) -> None:
    path = _write(tmp_path, FAILING)
    result = run_jctl("test", str(path), "--jobs", "1")
    assert result.returncode == 1, result.stderr
    assert f"{path}:8: phase: expected FAILED, got SUCCEEDED" in result.stdout
    assert "error: expected EXPENSE_REJECTED, got None" in result.stdout
    assert "published {'topic': 'claims'}: expected at least 1 record(s), got 0" in result.stdout
    assert "state.completed routeDecision -> approve" in result.stdout
    assert "0 passed, 1 failed" in result.stdout


def test_json_and_junit_formats_and_min_coverage(tmp_path: Path) -> None:
    path = _write(tmp_path, """scenarios:
  - name: approved
    input: { claimId: c-1, amount: 5 }
    steps:
      - signal: { payload: { decision: APPROVE, manager: bo } }
      - expect: { phase: SUCCEEDED, output: { approvedBy: bo }, visited: [registerClaim, approve] }
""")
    result = run_jctl("test", str(tmp_path), "--format", "json", "--jobs", "1")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["passed"] == 1 and report["failed"] == 0
    coverage = report["coverage"][0]
    uncovered = {item["state"] for item in coverage["uncoveredStates"]}
    assert uncovered == {"rejected", "escalated"}
    assert {"transition": "routeDecision -[default]-> rejected", "scope": "spec", "line": 103} in \
        coverage["uncoveredTransitions"]
    below = run_jctl("test", str(path), "--min-coverage", "100", "--jobs", "1")
    assert below.returncode == 1
    assert "uncovered state rejected" in below.stdout and "journey.yaml:120" in below.stdout
    junit = run_jctl("test", str(path), "--format", "junit", "--jobs", "1")
    suite = ElementTree.fromstring(junit.stdout)
    assert suite.get("tests") == "1" and suite.get("failures") == "0"


def test_scenario_file_breaking_the_schema_is_refused_with_a_position(tmp_path: Path) -> None:
    path = _write(tmp_path, """scenarios:
  - name: typo
    steps:
      - expect: { phase: DONE }
""")
    result = run_jctl("test", str(path))
    assert result.returncode == 2
    assert f"{path}:6:" in result.stderr and "DONE" in result.stderr
    assert "Traceback" not in result.stderr


def test_scenarios_run_in_parallel_give_the_same_history_as_in_one_process(tmp_path: Path) -> None:
    path = _write(tmp_path, FAILING.replace("approve but", "a") + FAILING.split("scenarios:\n")[1])
    serial = json.loads(run_jctl("test", str(path), "--format", "json", "--jobs", "1").stdout)
    parallel = json.loads(run_jctl("test", str(path), "--format", "json", "--jobs", "2").stdout)
    assert [s["lastTransitions"] for s in serial["scenarios"]] == [s["lastTransitions"] for s in parallel["scenarios"]]
    assert serial["failed"] == 2


def test_published_schema_matches_the_packaged_one() -> None:
    assert (REPO / "specs" / "scenario.schema.json").read_text() == \
        (REPO / "jctl" / "data" / "scenario.schema.json").read_text()


def test_graph_draws_every_state_and_transition_in_mermaid_and_dot() -> None:
    journey = EXAMPLE / "expense-approval.journey.yaml"
    mermaid = run_jctl("graph", str(journey))
    assert mermaid.returncode == 0, mermaid.stderr
    assert mermaid.stdout.startswith("flowchart TD")
    assert 'routeDecision{"routeDecision<br/><i>choice</i>"}' in mermaid.stdout
    assert 'escalated(["escalated<br/><i>fail</i>"])' in mermaid.stdout
    assert 'awaitManagerDecision -->|"onTimeout"| escalated' in mermaid.stdout
    dot = run_jctl("graph", str(REPO / "specs/examples/identity-check/identity-check.journey.yaml"), "-f", "dot")
    assert 'subgraph cluster_primaryOrSla_sla__ { label="primaryOrSla/sla";' in dot.stdout
    assert "routeVerdict -> notVerified" in dot.stdout


def test_coverage_graph_marks_uncovered_transitions(tmp_path: Path) -> None:
    path = _write(tmp_path, FAILING.replace(", published: [{ topic: claims }]", ""))
    run_jctl("test", str(path), "--coverage-graph", str(tmp_path / "graphs"), "--jobs", "1")
    drawn = (tmp_path / "graphs" / "expense-approval.mmd").read_text()
    assert 'routeDecision -.->|"default"| rejected' in drawn
    assert 'routeDecision -->|"choices[0]"| approve' in drawn


def test_status_graph_highlights_the_path_taken_and_the_current_state(tmp_path: Path) -> None:
    db = str(tmp_path / "store.db")
    started = run_jctl("run", str(EXAMPLE / "expense-approval.journey.yaml"), "--mocks",
                       str(EXAMPLE / "expense-approval.mocks.yaml"), "-i", '{"claimId": "x", "amount": 3}',
                       "-f", "json", "--db", db)
    instance = json.loads(started.stdout)["journeyId"]
    for command in ("status", "history"):
        drawn = run_jctl(command, instance, "--graph", "--db", db)
        assert drawn.returncode == 0, drawn.stderr
        assert "class registerClaim taken" in drawn.stdout
        assert "class awaitManagerDecision current" in drawn.stdout
        assert "linkStyle 0 stroke" in drawn.stdout and "linkStyle 1 " not in drawn.stdout


def test_published_records_are_matched_by_topic_key_and_count(tmp_path: Path) -> None:
    from tests.conftest import jsonata, write_journey

    write_journey(tmp_path, {
        "announce": {"type": "task", "task": {"kind": "kafkaPublish:v1", "topic": "orders", "key": "${context.id}",
                                              "value": {"mapper": jsonata('{"id": id}')}}, "next": "done"},
        "done": {"type": "succeed"}}, "announce", name="publisher")
    path = tmp_path / "publisher.scenario.yaml"
    path.write_text("""journey: publisher.journey.yaml
scenarios:
  - name: announces the order once
    input: { id: o-1 }
    steps:
      - expect: { phase: SUCCEEDED, published: [{ topic: orders, key: o-1, count: 1 }] }
  - name: expects a topic it never publishes to
    input: { id: o-2 }
    steps:
      - expect: { published: [{ topic: audit }, { topic: orders, count: 2 }] }
""")
    result = run_jctl("test", str(path), "--jobs", "1")
    assert result.returncode == 1
    assert "PASS publisher.scenario.yaml::announces the order once" in result.stdout
    assert "published {'topic': 'audit'}: expected at least 1 record(s), got 0" in result.stdout
    assert "published {'topic': 'orders', 'count': 2}: expected 2 record(s), got 1" in result.stdout
    assert "1 passed, 1 failed" in result.stdout
