"""How scenario results are shown: a rich summary for people, JUnit XML for CI."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console


def print_summary(out: Console, results: Sequence[Any], coverage: Sequence[Any], min_coverage: float) -> None:
    from rich.text import Text

    for result in results:
        mark = Text("PASS ", style="green") if result.passed else Text("FAIL ", style="bold red")
        out.print(mark + Text(f"{result.title}  ({result.seconds:.2f}s)"))
        if result.passed:
            continue
        where = f"{result.file}:{result.failed_step_line or result.line}"
        for problem in [*result.failures, *([result.error] if result.error else [])]:
            out.print(Text(f"  {where}: {problem}"))
        out.print(Text("  last transitions:"))
        for line in result.last_transitions():
            out.print(Text(f"    {line}"))
    for journey in coverage:
        style = "red" if journey.percent < min_coverage else "green"
        out.print(Text(f"coverage {journey.journey.name}: ", style="bold")
                  + Text(f"{journey.percent:.1f}%", style=style)
                  + Text(f" ({len(journey.covered_nodes)}/{len(journey.nodes)} states, "
                         f"{len(journey.covered_edges)}/{len(journey.edges)} transitions)"))
        for node in journey.uncovered_nodes():
            out.print(Text(f"  uncovered state {node.state} ({journey.journey}:{node.line})"))
        for edge in journey.uncovered_edges():
            out.print(Text(f"  uncovered transition {edge.name} ({journey.journey}:{edge.line})"))
    failed = sum(not r.passed for r in results)
    out.print(Text(f"{len(results) - failed} passed, {failed} failed", style="bold red" if failed else "bold green"))


def junit_xml(results: Sequence[Any]) -> str:
    from xml.etree import ElementTree as ET

    suite = ET.Element("testsuite", name="jctl", tests=str(len(results)),
                       failures=str(sum(bool(r.failures) for r in results)),
                       errors=str(sum(r.error is not None for r in results)),
                       time=f"{sum(r.seconds for r in results):.3f}")
    for result in results:
        case = ET.SubElement(suite, "testcase", classname=result.file, name=result.name, time=f"{result.seconds:.3f}")
        detail = "\n".join([*result.failures, "last transitions:", *result.last_transitions()])
        if result.failures:
            ET.SubElement(case, "failure", message=result.failures[0]).text = detail
        if result.error:
            ET.SubElement(case, "error", message=result.error.splitlines()[0]).text = result.error
    return ET.tostring(suite, encoding="unicode")
