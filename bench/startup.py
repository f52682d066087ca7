"""Start-up cost of `jctl --help` and `jctl status <id>` against `python -c "import typer, rich"`.

Prints medians over repeated runs and the ratios (target: each at most 1.5x the baseline), measured in one run.
Usage: python bench/startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def median_seconds(command: list[str], runs: int, env: dict[str, str]) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=False)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def create_instance(db: Path, env: dict[str, str]) -> str:
    """A paused instance to ask the status of, made through the CLI itself."""
    example = ROOT / "specs/examples/expense-approval/expense-approval.journey.yaml"
    result = subprocess.run(
        [sys.executable, "-m", "jctl", "run", str(example), "--db", str(db), "--format", "json",
         "--input", '{"claimId": "c-1", "amount": 120, "currency": "EUR"}', "--mocks", str(example.with_name("expense-approval.mocks.yaml"))],
        capture_output=True, text=True, env=env, check=False,
    )
    import json

    try:
        return json.loads(result.stdout)["journeyId"]
    except (ValueError, KeyError):
        raise SystemExit(f"could not create the instance to measure: {result.stderr}") from None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    env = dict(os.environ, PYTHONPATH=str(ROOT), NO_COLOR="1")
    python = sys.executable
    script = Path(python).with_name("jctl")  # the console script users run, when jctl is installed
    jctl = [str(script)] if script.exists() else [python, "-m", "jctl"]
    baseline = median_seconds([python, "-c", "import typer, rich"], args.runs, env)
    help_time = median_seconds([*jctl, "--help"], args.runs, env)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        instance = create_instance(db, env)
        status_time = median_seconds([*jctl, "status", instance, "--db", str(db)], args.runs, env)
    print(f"command: {' '.join(jctl)}")
    print(f"baseline python -c 'import typer, rich': {baseline * 1000:7.1f} ms")
    print(f"jctl --help:                             {help_time * 1000:7.1f} ms  ratio {help_time / baseline:.2f}x")
    print(f"jctl status <id>:                        {status_time * 1000:7.1f} ms  ratio {status_time / baseline:.2f}x")
    print("target: each ratio <= 1.50x")


if __name__ == "__main__":
    main()
