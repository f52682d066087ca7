"""Validation throughput: journey files per second over a directory of specs, without and with expression checks.

Uses ../shared/corpus when present, otherwise the project's own specs/examples. Each pass builds a fresh workspace
(no caches carried over) and repeats the whole directory until about two seconds have passed.
Usage: python bench/validate.py [DIR]   (goal: >= 200 journey files/s without expressions, on one core)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from jctl.checks import Workspace, load_checks  # noqa: E402
from jctl.lint import classify, discover, lint_file  # noqa: E402


def files_per_second(files: list[Path], expressions: bool, budget_s: float = 2.0) -> tuple[float, int]:
    done = 0
    started = time.perf_counter()
    while time.perf_counter() - started < budget_s:
        workspace = Workspace(expressions=expressions)
        for path in files:
            lint_file(path, workspace)
            done += 1
    return done / (time.perf_counter() - started), done


def main() -> None:
    default = ROOT.parent / "shared" / "corpus"
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else (default if default.is_dir() else ROOT / "specs/examples")
    files, _ = discover([target])
    journeys = [f for f in files if classify(f) == "journey"]
    load_checks()
    lint_file(journeys[0], Workspace(expressions=True))  # warm the engines once, as a long CI job would be
    print(f"{target}: {len(journeys)} journey files, {len(files)} spec files in all")
    for label, subset in (("journey files", journeys), ("all spec files", files)):
        for expressions in (False, True):
            rate, count = files_per_second(subset, expressions)
            mode = "schema+semantics+expressions" if expressions else "schema+semantics"
            print(f"  {label:<15} {mode:<30} {rate:8.1f} files/s  ({count} validations)")
    print("goal: >= 200 journey files/s for schema+semantics")


if __name__ == "__main__":
    main()
