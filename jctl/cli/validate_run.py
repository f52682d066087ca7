"""The body of `jctl validate`, free of the CLI framework: the full app and the lean entry point
(jctl.cli.app, which answers `validate [PATH]... [--format F]` without loading Typer) both call it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from jctl.errors import EXIT_FINDINGS, EXIT_OK, UsageError

if TYPE_CHECKING:
    from jctl.config import LintConfig
    from jctl.lint import LintReport

PROGRESS_THRESHOLD = 20  # fewer files finish before a progress bar would be worth drawing
HUMAN_FORMATS = ("text", "human")
FORMATS = (*HUMAN_FORMATS, "json", "sarif", "github")  # validate.OutputFormat's values, without Typer


def run_validation(targets: list[Path], output_format: str, *, strict: bool = False, expressions: bool = True,
                   fix: bool = False, config_path: Path | None = None) -> int:
    """Lint `targets`, print the report in `output_format`, and return the exit code."""
    with _fewer_collections():
        return _validate(targets, output_format, strict, expressions, fix, config_path)


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """The cyclic garbage collector runs far less often: a run builds documents that live to its end, which the
    default thresholds have it walk again and again for cycles that are rare (mypy raises them for the same reason;
    3-7% of a run, measured with bench/peers.py's file sets)."""
    import gc

    thresholds = gc.get_threshold()
    gc.set_threshold(200_000, 30, 30)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)


def _validate(targets: list[Path], output_format: str, strict: bool, expressions: bool, fix: bool,
              config_path: Path | None) -> int:
    from jctl.config import load_config
    from jctl.lint import discover

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
    return EXIT_FINDINGS if failing else EXIT_OK


def _run_with_progress(targets: list[Path], config: LintConfig, expressions: bool, file_count: int) -> LintReport:
    """Lint the targets, with a progress bar on stderr when it is a terminal and there are many files."""
    from jctl.cli.output import _rich_terminal
    from jctl.lint import lint_paths

    # decided before rich is loaded (its progress module alone costs a small run's lint): a pipe never needs it
    if file_count < PROGRESS_THRESHOLD or not _rich_terminal(sys.stderr):
        return lint_paths(targets, config, expressions=expressions)
    from rich.progress import Progress

    from jctl.cli.output import console

    err = console(stderr=True)

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


def _emit(report: LintReport, output_format: str) -> None:
    from jctl.render import FORMATTERS

    if output_format in HUMAN_FORMATS:
        from jctl.cli.output import console
        from jctl.render import HumanFormatter

        HumanFormatter(console()).render_to_console(report)
        return
    text = FORMATTERS[output_format]().render(report)
    if text:
        sys.stdout.write(text + "\n")


