"""Output formats for validate diagnostics: one class per format, each turning a LintReport into text.

Human output uses rich (grouped by file, the source line with a caret); json, sarif and github are stable
machine formats with golden-file tests.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from jctl import __version__
from jctl.diagnostics import RULES, Diagnostic, Severity

if TYPE_CHECKING:
    from rich.console import Console

    from jctl.lint import LintReport

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_SARIF_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTE: "note"}


class Formatter(Protocol):
    def render(self, report: LintReport) -> str: ...


class JsonFormatter:
    def render(self, report: LintReport) -> str:
        document = {
            "files": len(report.files),
            "diagnostics": [d.as_dict() for d in report.diagnostics],
            "summary": {"errors": report.errors, "warnings": report.warnings},
        }
        return json.dumps(document, indent=2)


class GithubFormatter:
    """GitHub Actions workflow commands: annotations on the pull request diff."""

    def render(self, report: LintReport) -> str:
        return "\n".join(self._line(d) for d in report.diagnostics)

    @staticmethod
    def _line(d: Diagnostic) -> str:
        command = {"error": "error", "warning": "warning"}.get(d.severity.value, "notice")
        message = d.message + (f" ({d.hint})" if d.hint else "")
        properties = f"file={_escape_property(d.file)},line={d.line},col={d.column},title={d.rule}"
        return f"::{command} {properties}::{_escape_data(message)}"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


class SarifFormatter:
    """SARIF 2.1.0, the format GitHub code scanning ingests; every known rule is described in the driver."""

    def render(self, report: LintReport) -> str:
        from jctl.checks import load_checks

        load_checks()
        rule_ids = sorted(RULES)
        index = {rule_id: i for i, rule_id in enumerate(rule_ids)}
        run = {
            "tool": {
                "driver": {
                    "name": "jctl",
                    "version": __version__,
                    "informationUri": "https://github.com/journeyforge/jctl",
                    "rules": [self._rule(rule_id) for rule_id in rule_ids],
                }
            },
            "results": [self._result(d, index) for d in report.diagnostics],
        }
        return json.dumps({"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}, indent=2)

    @staticmethod
    def _rule(rule_id: str) -> dict[str, object]:
        rule = RULES[rule_id]
        return {
            "id": rule.id,
            "name": "".join(part.capitalize() for part in rule.id.split("-")),
            "shortDescription": {"text": rule.summary},
            "defaultConfiguration": {"level": _SARIF_LEVEL[rule.severity]},
        }

    @staticmethod
    def _result(d: Diagnostic, index: dict[str, int]) -> dict[str, object]:
        text = d.message + (f" Fix: {d.hint}" if d.hint else "")
        result: dict[str, object] = {
            "ruleId": d.rule,
            "level": _SARIF_LEVEL[d.severity],
            "message": {"text": text},
            "locations": [{
                "physicalLocation": {
                    "artifactLocation": {"uri": Path(d.file).as_posix()},
                    "region": {"startLine": d.line, "startColumn": d.column},
                },
                **({"logicalLocations": [{"fullyQualifiedName": d.path, "kind": "member"}]} if d.path else {}),
            }],
        }
        if d.rule in index:
            result["ruleIndex"] = index[d.rule]
        return result


class HumanFormatter:
    """Grouped by file; each diagnostic shows the source line with a caret under the column."""

    def __init__(self, console: Console):
        self.console = console

    def render_to_console(self, report: LintReport) -> None:
        from rich.text import Text

        by_file: dict[str, list[Diagnostic]] = defaultdict(list)
        for d in report.diagnostics:
            by_file[d.file].append(d)
        for file, diagnostics in by_file.items():
            self.console.print(Text(file, style="bold underline"))
            lines = _source_lines(file)
            for d in diagnostics:
                self._print_one(d, lines)
            self.console.print()
        self.console.print(summary_text(report))

    def _print_one(self, d: Diagnostic, lines: list[str]) -> None:
        from rich.text import Text

        style = {"error": "bold red", "warning": "bold yellow"}.get(d.severity.value, "bold blue")
        head = Text(f"  {d.line}:{d.column} ")
        head.append(d.severity.value, style=style)
        head.append(f" [{d.rule}] ", style="dim")
        head.append(d.message)
        self.console.print(head)
        if 0 < d.line <= len(lines):
            source, caret = _excerpt(lines[d.line - 1].rstrip("\n").expandtabs(1), max(d.column - 1, 0))
            gutter = f"  {d.line:>5} | "
            self.console.print(Text(gutter, style="dim") + Text(source))
            self.console.print(Text(" " * (len(gutter) + caret) + "^", style=style))
        if d.hint:
            self.console.print(Text(f"        hint: {d.hint}", style="cyan"))


EXCERPT_WIDTH = 120  # a minified document is one long line: show the part around the column, not all of it


def _excerpt(line: str, column: int) -> tuple[str, int]:
    """The part of `line` shown in a code frame and where the caret goes in it."""
    if len(line) <= EXCERPT_WIDTH:
        return line, column
    start = max(0, min(column - EXCERPT_WIDTH // 2, len(line) - EXCERPT_WIDTH))
    shown = line[start:start + EXCERPT_WIDTH]
    prefix = "…" if start else ""
    suffix = "…" if start + EXCERPT_WIDTH < len(line) else ""
    return prefix + shown + suffix, column - start + len(prefix)


def _source_lines(file: str) -> list[str]:
    """The file's lines for code frames; none for a file too large to be read as a spec (it was refused unread)."""
    from jctl.spec.loader import MAX_BYTES

    try:
        with Path(file).open("rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except OSError:
        return []
    return [] if len(raw) > MAX_BYTES else raw.decode("utf-8", errors="replace").splitlines()


def summary_text(report: LintReport) -> str:
    files = len(report.files)
    noun = "file" if files == 1 else "files"
    if not report.diagnostics:
        return f"[green]✓[/] {files} {noun} checked, no problems"
    return (
        f"{files} {noun} checked: [red]{report.errors} error(s)[/], [yellow]{report.warnings} warning(s)[/]"
    )


FORMATTERS: dict[str, type[Formatter]] = {
    "json": JsonFormatter,
    "sarif": SarifFormatter,
    "github": GithubFormatter,
}
