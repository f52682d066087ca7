"""`jctl test`: run scenario files, print a summary (text, json or junit), coverage, exit 1 on any failure."""

from __future__ import annotations

import os
from enum import Enum
from pathlib import Path
from typing import Any

import typer


class TestFormat(str, Enum):
    text = "text"
    json = "json"
    junit = "junit"


def test(
    paths: list[Path] = typer.Argument(None, metavar="[PATHS]...", help="Scenario files or folders (default: .)."),
    output_format: TestFormat = typer.Option(TestFormat.text, "--format", "-f", help="Output format."),
    min_coverage: float = typer.Option(0.0, "--min-coverage", metavar="P", min=0, max=100,
                                       help="Fail when a journey's coverage is below P percent."),
    coverage_graph: Path = typer.Option(None, "--coverage-graph", metavar="DIR",
                                        help="Write one Mermaid diagram per journey, uncovered transitions dashed."),
    jobs: int = typer.Option(min(2, os.cpu_count() or 1), "--jobs", "-j", min=1, max=64, help="Worker processes."),
) -> None:
    """Run *.scenario.yaml scenarios, each in its own temporary store, and report results and coverage."""
    from jctl.scenarios.coverage import measure
    from jctl.scenarios.loader import load_scenarios, scenario_files
    from jctl.scenarios.runner import run_all

    files = scenario_files(paths or [Path(".")])
    scenarios = [s for f in files for s in load_scenarios(f)]
    results = run_all(scenarios, jobs)
    coverage = measure(results)
    if coverage_graph is not None:
        from jctl.graph import mermaid

        coverage_graph.mkdir(parents=True, exist_ok=True)
        for journey in coverage:
            name = journey.journey.name.removesuffix(".yaml").removesuffix(".journey")
            (coverage_graph / f"{name}.mmd").write_text(mermaid(journey, journey.uncovered_edges()), encoding="utf-8")
    below = [c for c in coverage if c.percent < min_coverage]
    if output_format is TestFormat.json:
        from jctl.cli.output import print_json

        print_json({"passed": sum(r.passed for r in results), "failed": sum(not r.passed for r in results),
                    "scenarios": [_result_json(r) for r in results], "coverage": [c.to_json() for c in coverage]})
    elif output_format is TestFormat.junit:
        from jctl.scenarios.report import junit_xml

        typer.echo(junit_xml(results))
    else:
        from jctl.cli.output import console
        from jctl.scenarios.report import print_summary

        print_summary(console(), results, coverage, min_coverage)
    raise typer.Exit(1 if below or not all(r.passed for r in results) or not results else 0)


def _result_json(result: Any) -> dict[str, Any]:
    return {"file": result.file, "name": result.name, "line": result.line, "journey": result.journey,
            "passed": result.passed, "failures": result.failures, "error": result.error,
            "failedStepLine": result.failed_step_line, "seconds": round(result.seconds, 3),
            "lastTransitions": result.last_transitions()}


class GraphFormat(str, Enum):
    mermaid = "mermaid"
    dot = "dot"


def graph(
    file: Path = typer.Argument(..., metavar="FILE", help="The journey spec to draw."),
    output_format: GraphFormat = typer.Option(GraphFormat.mermaid, "--format", "-f", help="Diagram language."),
) -> None:
    """Print the journey's state machine as a Mermaid or Graphviz DOT diagram."""
    from jctl.errors import UsageError
    from jctl.graph import render
    from jctl.spec.loader import LoadError

    try:
        typer.echo(render(file, output_format.value), nl=False)
    except LoadError as exc:
        raise UsageError(f"{file}:{exc.line}:{exc.column}: {exc.message}", hint=exc.hint) from None
