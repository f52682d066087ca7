"""The bundled expense-approval Arazzo workflow run end to end against a live `jctl serve` by arazzo-runner."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

arazzo_runner = pytest.importorskip("arazzo_runner")
from serving import running_server  # noqa: E402

from jctl.serve.engine import ServeSettings  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[1] / "specs" / "examples" / "expense-approval"


def test_happy_path_workflow_runs_against_the_server(tmp_path: Path) -> None:
    settings = ServeSettings(folders=[EXAMPLE], db=tmp_path / "jctl.db", simulated_clock=True)
    with running_server(settings) as base:
        # the published OpenAPI names a relative server (/api/v1); point this copy at the live one
        openapi = yaml.safe_load((EXAMPLE / "expense-approval.openapi.yaml").read_text())
        openapi["servers"] = [{"url": f"{base}/api/v1"}]
        (tmp_path / "expense-approval.openapi.yaml").write_text(yaml.safe_dump(openapi))
        shutil.copy(EXAMPLE / "expense-approval.arazzo.yaml", tmp_path)
        runner = arazzo_runner.ArazzoRunner.from_arazzo_path(str(tmp_path / "expense-approval.arazzo.yaml"))
        result = runner.execute_workflow("expense-approval-happy-path",
                                         {"claimId": "c-42", "amount": 99.5, "manager": "ada"})
    assert result.error is None, result.error
    assert result.outputs["phase"] == "SUCCEEDED"
    assert result.outputs["status"] == "EXPENSE_APPROVED" and result.outputs["approvedBy"] == "ada"
    assert len(result.outputs["journeyId"]) == 32
