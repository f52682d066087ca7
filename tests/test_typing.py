"""The package type-checks cleanly under the [tool.mypy] settings in pyproject.toml (strict)."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_mypy_reports_no_errors(tmp_path: Path) -> None:
    mypy = pytest.importorskip("mypy.version", reason="mypy is not installed (pip install -e '.[test]')")
    cache = tmp_path / "cache"
    seed = _seed_folder(mypy.__version__)
    try:  # a head start only: a seed another run is replacing just means a cold check
        shutil.copytree(seed, cache)
    except (OSError, shutil.Error):
        shutil.rmtree(cache, ignore_errors=True)
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(REPO / "pyproject.toml"), "--cache-dir", str(cache)],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, f"mypy found problems:\n{result.stdout}{result.stderr}"
    assert "Success: no issues found" in result.stdout
    _keep_as_seed(cache, seed)


def _seed_folder(mypy_version: str) -> Path:
    """Where a clean run leaves its cache for the next run (outside the repo, which stays clean). Rechecking is
    mypy's incremental mode: every module whose file changed, and every module depending on a changed interface, is
    checked again, and mypy never caches a module that had errors, so the whole package is still checked strictly;
    what the seed saves is analysing the standard library and the dependencies again (most of the time)."""
    config = (REPO / "pyproject.toml").read_bytes()
    key = hashlib.sha256(b"\0".join([mypy_version.encode(), sys.version.encode(), sys.executable.encode(), config]))
    return Path(tempfile.gettempdir()) / f"jctl-mypy-seed-{os.getuid()}-{key.hexdigest()[:16]}"


def _keep_as_seed(cache: Path, seed: Path) -> None:
    if seed.is_dir():
        return
    staging = Path(tempfile.mkdtemp(prefix=seed.name + ".", dir=seed.parent))
    shutil.copytree(cache, staging, dirs_exist_ok=True)
    try:
        staging.rename(seed)  # atomic: a concurrent run sees no seed or a whole one
    except OSError:  # another run left one first
        shutil.rmtree(staging, ignore_errors=True)
    for old in seed.parent.glob(seed.name.rsplit("-", 1)[0] + "-*"):  # seeds of another mypy or configuration
        if old.is_dir() and "." not in old.name and old != seed:
            shutil.rmtree(old, ignore_errors=True)
