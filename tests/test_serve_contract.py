"""The bundled expense-approval OpenAPI checked against a live `jctl serve` by schemathesis: every documented
operation, status code, content type and schema, with generated valid and invalid inputs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402
from serving import running_server  # noqa: E402

from jctl.serve.engine import ServeSettings  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[1] / "specs" / "examples" / "expense-approval"
schema = schemathesis.openapi.from_path(EXAMPLE / "expense-approval.openapi.yaml")


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = ServeSettings(folders=[EXAMPLE], db=tmp_path_factory.mktemp("contract") / "jctl.db",
                             simulated_clock=True)
    with running_server(settings) as base:
        yield f"{base}/api/v1"


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_live_server_matches_the_published_openapi(case: schemathesis.Case, base_url: str) -> None:
    case.call_and_validate(base_url=base_url)
