"""Start-up cost of the commands people and scripts call most — `jctl --help`, `status`, `list`, `history` —
against `python -c "import typer, rich"`.

Prints medians over repeated runs and the ratios (target: each at most 0.8x the baseline; Temporal's Go CLI is at
0.79x), measured in one run. The package is byte-compiled first and PYTHONDONTWRITEBYTECODE is unset, as an
installed package runs. Usage: python bench/startup.py [--runs N]
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
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    python = sys.executable
    script = Path(python).with_name("jctl")  # the console script users run, when jctl is installed
    jctl = [str(script)] if script.exists() else [python, "-m", "jctl"]
    subprocess.run([python, "-m", "compileall", "-q", str(ROOT / "jctl")], check=True)
    baseline = median_seconds([python, "-c", "import typer, rich"], args.runs, env)
    print(f"command: {' '.join(jctl)}")
    print(f"baseline python -c 'import typer, rich': {baseline * 1000:7.1f} ms")
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        instance = create_instance(db, env)
        for label, arguments in [("--help", ["--help"]), ("status <id>", ["status", instance]),
                                 ("status <id> -f json", ["status", instance, "-f", "json"]),
                                 ("list", ["list"]), ("list -f json", ["list", "-f", "json"]),
                                 ("history <id>", ["history", instance])]:
            seconds = median_seconds([*jctl, *arguments, *(["--db", str(db)] if arguments != ["--help"] else [])],
                                     args.runs, env)
            print(f"jctl {label:<35} {seconds * 1000:7.1f} ms  ratio {seconds / baseline:.2f}x")
    print("target: each ratio <= 0.80x")


if __name__ == "__main__":
    main()
