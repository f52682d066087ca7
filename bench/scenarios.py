"""Run time of the bundled example scenario suite (what .ci/run's `jctl test` does), serial and over 2 processes.

Usage: python bench/scenarios.py
"""

from __future__ import annotations

import time
from pathlib import Path

from jctl.scenarios.loader import load_scenarios, scenario_files
from jctl.scenarios.runner import run_all

EXAMPLES = Path(__file__).resolve().parents[1] / "specs" / "examples"


def main() -> None:
    scenarios = [s for f in scenario_files([EXAMPLES]) for s in load_scenarios(f)]
    for jobs in (1, 2):
        began = time.perf_counter()
        results = run_all(scenarios, jobs)
        elapsed = time.perf_counter() - began
        passed = sum(r.passed for r in results)
        print(f"jobs={jobs}: {len(results)} scenarios ({passed} passed) in {elapsed:.2f} s")


if __name__ == "__main__":
    main()
