"""`jctl serve` as users run it: a subprocess on a free loopback port, stopped with SIGTERM."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from conftest import REPO
from serving import free_port

EXPENSE = REPO / "specs" / "examples" / "expense-approval" / "expense-approval.journey.yaml"


def test_serve_lists_invalid_specs_serves_the_rest_and_stops_gracefully_on_sigterm(tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    specs.mkdir()
    shutil.copy(EXPENSE, specs)
    (specs / "broken.journey.yaml").write_text("apiVersion: v1\nkind: Journey\nmetadata: {name: broken}\nspec: {}\n")
    port, db = free_port(), tmp_path / "jctl.db"
    env = dict(os.environ, PYTHONPATH=str(REPO), NO_COLOR="1")
    server = subprocess.Popen([sys.executable, "-m", "jctl", "serve", str(specs), "--port", str(port), "--db", str(db)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(1200):
            try:
                httpx.get(f"{base}/api/v1/journeys", timeout=5)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stderr.read() if server.stderr else ""
                time.sleep(0.1)
        started = httpx.post(f"{base}/api/v1/journeys/expense-approval/start", json={"claimId": "c", "amount": 3})
        assert started.status_code == 200
        assert httpx.post(f"{base}/api/v1/journeys/broken/start", json={}).status_code == 404
    finally:
        server.send_signal(signal.SIGTERM)
        _, stderr = server.communicate(timeout=120)
    assert server.returncode == 0, stderr
    assert "not served (invalid):" in stderr and "broken.journey.yaml" in stderr
    assert "serving expense-approval (sync start)" in stderr and "jctl serve: stopped" in stderr
    log = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    assert {"method": "POST", "path": "/api/v1/journeys/expense-approval/start", "status": 200} in [
        {k: entry[k] for k in ("method", "path", "status")} for entry in log]
    status = subprocess.run([sys.executable, "-m", "jctl", "status", started.json()["journeyId"], "--db", str(db),
                             "-f", "json"], capture_output=True, text=True, env=env)
    assert json.loads(status.stdout)["currentState"] == "awaitManagerDecision"  # committed before the stop


def test_serve_refuses_a_folder_without_valid_journeys(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "jctl", "serve", str(tmp_path), "--port", str(free_port()),
                           "--db", str(tmp_path / "jctl.db")], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(REPO)), timeout=120)
    assert done.returncode == 2 and "no valid journey to serve" in done.stderr


def test_gc_purges_only_instances_finished_before_the_retention(tmp_path: Path) -> None:
    from conftest import run_jctl

    db = str(tmp_path / "jctl.db")

    def run(*args: str) -> str:
        done = run_jctl(*args, "--db", db)
        assert done.returncode in (0, 1), done.stderr
        return done.stdout

    finished = json.loads(run("run", str(EXPENSE), "-i", '{"claimId": "a", "amount": 1}', "--idempotency-key", "gc-k",
                              "-f", "json"))["journeyId"]
    run("cancel", finished)
    running = json.loads(run("run", str(EXPENSE), "-i", '{"claimId": "b", "amount": 1}', "-f", "json"))["journeyId"]
    # still inside retention
    assert json.loads(run("gc", "--older-than", "PT1H", "-f", "json")) == {"purged": [], "appliedEffectKeys": 0}
    run("clock", "advance", "PT2H")
    assert json.loads(run("gc", "--older-than", "PT1H", "-f", "json")) == {"purged": [finished], "appliedEffectKeys": 0}
    listed = [row["journeyId"] for row in json.loads(run("list", "-f", "json"))]
    assert running in listed and finished not in listed
    # the start key went with its instance: the key starts afresh instead of pointing at nothing
    again = json.loads(run("run", str(EXPENSE), "-i", '{"claimId": "a", "amount": 1}', "--idempotency-key", "gc-k",
                           "-f", "json"))["journeyId"]
    assert again not in (finished, running)
    bad = run_jctl("gc", "--older-than", "soon", "--db", db)
    assert bad.returncode == 2 and "--older-than" in bad.stderr
