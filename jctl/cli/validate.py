"""`jctl validate`: lint journey, OpenAPI and Arazzo files for people and for CI."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from jctl.errors import EXIT_FINDINGS, EXIT_OK, UsageError

if TYPE_CHECKING:
    from jctl.config import LintConfig
    from jctl.lint import LintReport

PROGRESS_THRESHOLD = 20  # fewer files finish before a progress bar would be worth drawing


class OutputFormat(str, Enum):
    text = "text"  # the human format, named as in every other command
    human = "human"  # the same, under the name linters often use
    json = "json"
    sarif = "sarif"
    github = "github"


def validate(
    paths: list[Path] = typer.Argument(None, metavar="[PATH]...", help="Files or directories (searched recursively). Default: `.`"),
    output_format: OutputFormat = typer.Option(OutputFormat.text, "--format", "-f", help="Output format."),
    strict: bool = typer.Option(False, "--strict", help="Warnings also make the exit code 1."),
    expressions: bool = typer.Option(True, "--expressions/--no-expressions",
                                     help="Compile every expression with its engine (slower)."),
    fix: bool = typer.Option(False, "--fix", help="Rewrite mechanical problems in place, then validate again."),
    config_path: Path = typer.Option(None, "--config", metavar="FILE", help="Configuration file (default: nearest .jctl.toml "
                                     "or pyproject.toml with [tool.jctl])."),
    list_rules: bool = typer.Option(False, "--list-rules", help="Print every rule id with its severity and exit."),
) -> None:
    """Lint journey specs (*.journey.yaml), their OpenAPI and Arazzo files, alone and against each other.

    Exit 0 when clean, 1 when there are errors (or warnings with --strict), 2 on usage errors or unreadable paths.
    """
    from jctl.config import load_config
    from jctl.lint import discover

    if list_rules:
        _print_rules(output_format)
        return
    targets = paths or [Path(".")]
    files, missing = discover(targets)
    if missing:
        special = [str(p) for p in missing if p.exists()]
        if special:
            raise UsageError(f"not a regular file or directory: {', '.join(special)}",
                             hint="pass spec files or the directories that hold them")
        raise UsageError(f"no such file or directory: {', '.join(str(p) for p in missing)}")
    config = load_config(config_path)
    if fix:
        _apply_fixes(files)
    report = _run_with_progress(targets, config, expressions, len(files))
    _emit(report, output_format)
    failing = report.errors or (strict and report.warnings)
    raise typer.Exit(EXIT_FINDINGS if failing else EXIT_OK)


def _run_with_progress(targets: list[Path], config: LintConfig, expressions: bool, file_count: int) -> LintReport:
    """Lint the targets, with a progress bar on stderr when it is a terminal and there are many files."""
    from jctl.cli.output import console
    from jctl.lint import lint_paths

    err = console(stderr=True)
    if file_count < PROGRESS_THRESHOLD or not err.is_terminal:
        return lint_paths(targets, config, expressions=expressions)
    from rich.progress import Progress

    with Progress(console=err, transient=True) as progress:
        task = progress.add_task("validating", total=file_count)
        return lint_paths(targets, config, expressions=expressions,
                          on_file=lambda _path: progress.advance(task))


def _apply_fixes(files: list[Path]) -> None:
    from jctl.cli.output import console
    from jctl.fix import fix_file
    from jctl.lint import classify

    err = console(stderr=True)
    for path in files:
        kind = classify(path)
        if kind not in ("journey", "arazzo"):
            continue
        result = fix_file(path, kind)
        for fix in result.fixes:
            err.print(f"fixed {path}: {fix}", markup=False, highlight=False)
        for reason in result.skipped:  # say why a warning `--fix` names is still there
            err.print(f"not fixed {path}: {reason}", markup=False, highlight=False)


def _emit(report: LintReport, output_format: OutputFormat) -> None:
    from jctl.render import FORMATTERS, HumanFormatter

    if output_format in (OutputFormat.text, OutputFormat.human):
        from jctl.cli.output import console

        HumanFormatter(console()).render_to_console(report)
        return
    text = FORMATTERS[output_format.value]().render(report)
    if text:
        sys.stdout.write(text + "\n")


def _print_rules(output_format: OutputFormat) -> None:
    from jctl.checks import load_checks
    from jctl.diagnostics import RULES

    load_checks()
    if output_format is OutputFormat.json:
        from jctl.cli.output import print_json

        print_json([{"id": r.id, "severity": r.severity.value, "summary": r.summary} for r in RULES.values()])
        return
    width = max(len(rule_id) for rule_id in RULES)
    for rule in sorted(RULES.values()):
        typer.echo(f"{rule.id:<{width}}  {rule.severity.value:<8} {rule.summary}")
