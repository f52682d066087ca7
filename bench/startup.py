"""Start-up cost of the commands people and scripts call most — `jctl --help`, `status`, `list`, `history` —
against `python -c "import typer, rich"`.

Prints medians over repeated runs and the ratios (target: each at most 0.8x the baseline; Temporal's Go CLI is at
0.79x), measured in one run. The package is byte-compiled first and PYTHONDONTWRITEBYTECODE is unset, as an
installed package runs. Each command is measured served by the warm command server (warmed by one untimed command,
in a runtime folder of the bench's own) and with JCTL_DAEMON=0, sample by sample alternated with the baseline.
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
sys.path.insert(0, str(ROOT / "bench"))

from warm import IN_PROCESS, private_runtime, warm_server  # noqa: E402


def medians(commands: list[tuple[list[str], dict[str, str]]], runs: int) -> list[float]:
    """The median seconds of each command, sampled in turn (load drifts; every command sees the same drift)."""
    samples: list[list[float]] = [[] for _ in commands]
    for _ in range(runs):
        for (command, env), taken in zip(commands, samples):
            started = time.perf_counter()
            subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=False)
            taken.append(time.perf_counter() - started)
    return [statistics.median(taken) for taken in samples]


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
    print(f"command: {' '.join(jctl)}; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{'':<40} {'served':>9} {'ratio':>6} {'JCTL_DAEMON=0':>14} {'ratio':>6}")
    baseline_command = ([python, "-c", "import typer, rich"], env)
    with tempfile.TemporaryDirectory() as tmp, private_runtime(env) as served_env:
        db = Path(tmp) / "bench.db"
        here_env = {**served_env, **IN_PROCESS}
        instance = create_instance(db, here_env)
        warm_server([*jctl, "list", "--db", str(db)], served_env)
        for label, arguments in [("--help", ["--help"]), ("status <id>", ["status", instance]),
                                 ("status <id> -f json", ["status", instance, "-f", "json"]),
                                 ("list", ["list"]), ("list -f json", ["list", "-f", "json"]),
                                 ("history <id>", ["history", instance])]:
            command = [*jctl, *arguments, *(["--db", str(db)] if arguments != ["--help"] else [])]
            served, here, baseline = medians([(command, served_env), (command, here_env), baseline_command],
                                             args.runs)
            print(f"jctl {label:<35} {served * 1000:7.1f} ms {served / baseline:5.2f}x {here * 1000:11.1f} ms "
                  f"{here / baseline:5.2f}x   (baseline python -c 'import typer, rich' {baseline * 1000:.1f} ms)")
    print(f"target: each ratio <= 0.80x; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
