from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus"
CASES = Path(__file__).resolve().parent / "cases"


@pytest.fixture
def corpus_dir() -> Path:
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is not present")
    return CORPUS


def run_jctl(*args: str, cwd: Path | None = None, stdin: str | None = None, env: dict[str, str] | None = None,
             timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a subprocess: exit codes and output are the contract."""
    environment = dict(os.environ, PYTHONPATH=str(REPO), NO_COLOR="1", COLUMNS="200")
    environment.pop("JCTL_DB", None)
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "jctl", *args], cwd=cwd, input=stdin, capture_output=True, text=True,
        env=environment, timeout=timeout,
    )
