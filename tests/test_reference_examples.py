"""The DSL reference's own examples (our fixtures in tests/cases/reference, one per example, named by section)
validate with no error: a false positive here is a bug in the schema or a check, not in the example."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import run_jctl
from jctl.diagnostics import Severity
from jctl.lint import lint_file

CASES = Path(__file__).resolve().parent / "cases" / "reference"
FIXTURES = sorted(CASES.glob("*.journey.yaml"))


def test_every_reference_example_is_here() -> None:
    assert len(FIXTURES) >= 30
    for path in FIXTURES:
        assert path.read_text().startswith("# From the DSL reference, section "), path.name


@pytest.mark.parametrize("path", FIXTURES, ids=[path.stem for path in FIXTURES])
def test_reference_example_has_no_error(path: Path) -> None:
    errors = [d for d in lint_file(path) if d.severity == Severity.ERROR]
    assert errors == [], [f"{d.line}:{d.column} [{d.rule}] {d.message}" for d in errors]


def test_validate_accepts_the_whole_folder() -> None:
    result = run_jctl("validate", str(CASES), "--format", "json")
    assert result.returncode == 0, result.stdout + result.stderr
