"""Semantic rules (structure, graph, references, values, style): one fixture per rule under tests/cases/rules,
with the expected diagnostics written in it as `# expect: <rule-id> <line>` lines."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jctl.checks import SpecFile, Workspace, load_checks, run_checks
from jctl.spec.loader import load_document, parse_document

CASES = Path(__file__).parent / "cases" / "rules"
OWN_MODULES = {f"jctl.checks.{name}" for name in (
    "structure", "graph", "references", "values", "style", "plugins", "cookies", "placement")}
EXPECT = re.compile(r"^#\s*expect:\s*(\S+)\s+(\d+)\s*$", re.MULTILINE)


def own_rules() -> set[str]:
    return {registered.rule for registered in load_checks() if registered.function.__module__ in OWN_MODULES}


def own_findings(path: Path) -> set[tuple[str, int]]:
    """(rule, line) of every diagnostic our rules produce for `path`, through the real pipeline when present."""
    rules = own_rules()
    try:
        from jctl.lint import lint_file
    except ImportError:
        document = load_document(path)
        found = set()
        for rule, finding in run_checks(SpecFile("journey", document, Workspace())):
            if rule in rules:
                found.add((rule, document.source_map.line_col(finding.path, finding.at)[0]))
        return found
    return {(d.rule, d.line) for d in lint_file(path) if d.rule in rules}


def fixtures() -> list[Path]:
    return sorted(CASES.glob("*.journey.yaml"))


@pytest.mark.parametrize("path", fixtures(), ids=lambda p: p.name.removesuffix(".journey.yaml"))
def test_fixture_yields_exactly_its_expectations(path: Path) -> None:
    expected = {(rule, int(line)) for rule, line in EXPECT.findall(path.read_text())}
    assert own_findings(path) == expected


def test_every_rule_has_a_fixture_that_triggers_it() -> None:
    for rule in sorted(own_rules()):
        fixture = CASES / f"{rule}.journey.yaml"
        assert fixture.is_file(), f"no fixture for {rule}"
        assert any(found == rule for found, _ in EXPECT.findall(fixture.read_text())), rule


def test_clean_fixture_has_no_findings() -> None:
    assert own_findings(CASES / "clean.journey.yaml") == set()


def test_severity_of_no_terminal_path_follows_the_kind() -> None:
    text = (CASES / "no-terminal-path.journey.yaml").read_text()
    for kind, severity in (("Api", "error"), ("Journey", "warning")):
        document = parse_document(text.replace("kind: Api", f"kind: {kind}"), CASES / "x.journey.yaml")
        severities = {
            finding.severity.value
            for rule, finding in run_checks(SpecFile("journey", document, Workspace()))
            if rule == "no-terminal-path" and finding.severity is not None
        }
        assert severities == {severity}


def test_findings_point_inside_interpolated_strings() -> None:
    document = load_document(CASES / "interpolation-syntax.journey.yaml")
    offsets = [
        finding.offset
        for rule, finding in run_checks(SpecFile("journey", document, Workspace()))
        if rule == "interpolation-syntax"
    ]
    # url: "https://api.example.com/items/${context.itemId" -> `${` is 30 characters in, plus the quote
    assert (0, 31) in offsets


# Malformed documents: every check must skip what it cannot read instead of crashing.
WORDS = st.sampled_from(
    ["spec", "states", "start", "type", "task", "kind", "next", "default", "choices", "wait", "webhook", "timer",
     "parallel", "branches", "subjourney", "subjourneys", "ref", "mapperRef", "mappers", "lang", "expr", "duration",
     "until", "resultVar", "outputVar", "response", "schema", "properties", "url", "method", "body", "headers",
     "policies", "schedule:v1", "httpCall:v1", "Api", "Journey", "a", "b", "lifecycle", "startMode", "timeoutSec",
     "join", "name", "interval", "startAt", "compensation", "access", "read", "guardRef", "${", "}", "GET"]
)
# Hypothesis's default number of examples on every run (each costs ~40 ms of checks); JCTL_FUZZ_EXAMPLES=1000 for a
# deeper search now and then. Failures found are replayed first from Hypothesis's example database.
FUZZ = settings(max_examples=int(os.environ.get("JCTL_FUZZ_EXAMPLES", "100")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow])
NODES = st.recursive(
    st.none() | st.booleans() | st.integers() | WORDS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(WORDS, inner, max_size=6),
    max_leaves=40,
)


@FUZZ
@given(body=NODES, kind=st.sampled_from(["Api", "Journey", 3]))
def test_checks_never_crash_on_malformed_documents(body: object, kind: object) -> None:
    document = parse_document("apiVersion: v1\n", Path("fuzz.journey.yaml"))
    document.data = {"apiVersion": "v1", "kind": kind, "spec": body}
    spec = SpecFile("journey", document, Workspace())
    for registered in load_checks():
        if registered.function.__module__ in OWN_MODULES:
            list(registered.function(spec))


def _replace(data: object, path: tuple, value: object) -> object:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(data, dict):
        return {k: (_replace(v, rest, value) if k == head else v) for k, v in data.items()}
    if isinstance(data, list):
        return [_replace(v, rest, value) if i == head else v for i, v in enumerate(data)]
    return data


@FUZZ
@given(data=st.data())
def test_checks_never_crash_when_a_fixture_node_has_the_wrong_type(data: st.DataObject) -> None:
    path = data.draw(st.sampled_from(fixtures()))
    document = load_document(path)
    node_path = data.draw(st.sampled_from(sorted(document.source_map.positions, key=str)))
    document.data = _replace(document.data, node_path, data.draw(NODES))
    spec = SpecFile("journey", document, Workspace())
    for registered in load_checks():
        if registered.function.__module__ in OWN_MODULES:
            list(registered.function(spec))


def corpus_dir() -> Path:
    corpus = Path(__file__).resolve().parents[2] / "shared" / "corpus"
    if not corpus.is_dir():
        pytest.skip("shared corpus not present")
    return corpus


# Rules that must stay silent on the third-party corpus (each finding there was judged a false positive or absent).
SILENT_ON_CORPUS = {
    "unknown-state", "unreachable-state", "no-terminal-path", "sync-start-timer", "schedule-interactive",
    "unknown-mapper", "unknown-policy", "unknown-subjourney", "interpolation-syntax", "invalid-identifier",
    "unknown-lang", "unknown-task-kind", "relative-url", "reserved-field", "timeout-out-of-range",
}


def test_corpus_runs_without_crashing_or_false_positives() -> None:
    journeys = sorted((corpus_dir() / "examples").rglob("*.journey.yaml"))
    assert journeys
    for path in journeys:
        rules = {rule for rule, _ in own_findings(path)}
        assert not rules & SILENT_ON_CORPUS, (path.name, rules & SILENT_ON_CORPUS)
