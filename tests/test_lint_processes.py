"""`jctl validate` spread over forked processes reports exactly what one process reports, in the same order."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

import jctl.lint as lint
import jctl.lint_processes as lint_processes
from conftest import run_jctl

CROSSFILE = Path(__file__).parent / "cases" / "crossfile"
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="processes are forked on Linux only")


@pytest.fixture
def many_files(tmp_path: Path) -> Path:
    """Four copies of the cross-file cases: OpenAPI and Arazzo files with findings, linked to their neighbours."""
    for copy in range(4):
        shutil.copytree(CROSSFILE, tmp_path / f"copy{copy}")
    return tmp_path


def test_processes_report_what_one_process_reports(many_files: Path) -> None:
    assert sum(path.stat().st_size for path in many_files.rglob("*") if ".journey." not in path.name) > \
        lint_processes.MIN_SHARE_BYTES  # so at least one share is linted in a second process
    one = run_jctl("validate", "--format", "json", ".", cwd=many_files, env={"JCTL_PROCESSES": "1"})
    spread = run_jctl("validate", "--format", "json", ".", cwd=many_files, env={"JCTL_PROCESSES": "4"})
    assert one.returncode == 1 and '"rule": "arazzo-' in one.stdout
    assert (spread.returncode, spread.stdout, spread.stderr) == (one.returncode, one.stdout, one.stderr)


def _spread_run(monkeypatch: pytest.MonkeyPatch, folder: Path) -> tuple[lint.LintReport, list[int]]:
    """The report of a run in 3 processes (each file announced once), and the pids of the processes it forked."""
    started: list[int] = []
    real_start = lint_processes.start_share

    def spy(files: list[Path], lint_one: lint_processes.LintOne) -> lint_processes.Share | None:
        share = real_start(files, lint_one)
        started.extend([share.pid] if share else [])
        return share

    monkeypatch.setattr(lint, "start_share", spy)
    monkeypatch.setattr(lint, "usable_processes", lambda: 3)
    monkeypatch.setattr(lint_processes, "MIN_SHARE_BYTES", 1_000)  # the cases are small: a share each all the same
    announced: list[Path] = []
    report = lint.lint_paths([folder], on_file=announced.append)
    assert sorted(announced) == sorted(report.files)
    return report, started


def test_every_forked_process_is_reaped_and_its_share_kept_in_order(
        many_files: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    serial = lint.lint_paths([many_files])
    spread, pids = _spread_run(monkeypatch, many_files)
    assert len(pids) == 2
    assert spread.diagnostics == serial.diagnostics and spread.files == serial.files
    for pid in pids:
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)


def test_a_share_whose_process_fails_is_linted_here(many_files: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    serial = lint.lint_paths([many_files])
    parent, real_lint_file = os.getpid(), lint.lint_file

    def failing_elsewhere(*args: object, **kwargs: object) -> list[lint.Diagnostic]:
        if os.getpid() != parent:
            raise RuntimeError("a forked process fails")
        return real_lint_file(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(lint, "lint_file", failing_elsewhere)
    spread, pids = _spread_run(monkeypatch, many_files)
    assert pids and spread.diagnostics == serial.diagnostics


def test_small_runs_and_journeys_stay_in_the_calling_process(tmp_path: Path) -> None:
    files = [tmp_path / f"f{i}.{kind}.yaml" for i, kind in enumerate(("journey", "openapi", "arazzo", "arazzo"))]
    kinds: list[str | None] = [lint.classify(path) for path in files]
    assert lint_processes.plan_shares(files, kinds, [1_000] * 4, 4) == []  # below the break-even
    plan = lint_processes.plan_shares(files, kinds, [100_000] * 4, 4)
    assert plan == [[files[1]], [files[2]], [files[3]]]
    assert lint_processes.plan_shares(files, kinds, [100_000] * 4, 2) == [files[2:]]
    assert lint_processes.plan_shares(files, kinds, [100_000] * 4, 1) == []
