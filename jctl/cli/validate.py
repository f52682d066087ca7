"""`jctl validate`: lint journey, OpenAPI and Arazzo files for people and for CI."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer


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
    from jctl.cli.validate_run import run_validation

    if list_rules:
        _print_rules(output_format)
        return
    code = run_validation(paths or [Path(".")], output_format.value, strict=strict, expressions=expressions,
                          fix=fix, config_path=config_path)
    raise typer.Exit(code)


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
