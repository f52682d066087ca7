"""Where spreading `jctl validate` over processes starts to pay: the wall time of the CLI on the first N Arazzo (or
OpenAPI) files of a directory in one process (JCTL_PROCESSES=1) and with the default, run alternately, best of
RUNS each, with the load average (the machine may be shared: compare the two columns, not runs on other days).
Usage: python bench/validate_processes.py [DIR] [KIND]   (default ../shared/corpus, arazzo)
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNS = int(os.environ.get("BENCH_RUNS", "5"))


def wall(files: list[Path], processes: str) -> float:
    env = dict(os.environ, NO_COLOR="1", PYTHONPATH=str(ROOT))
    if processes:
        env["JCTL_PROCESSES"] = processes
    else:
        env.pop("JCTL_PROCESSES", None)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "jctl", "validate", "--format", "json", *map(str, files)],
                   capture_output=True, env=env, cwd=ROOT, check=False)
    return time.perf_counter() - started


def main() -> None:
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "corpus"
    kind = sys.argv[2] if len(sys.argv) > 2 else "arazzo"
    files = sorted(p for p in target.rglob(f"*.{kind}.*") if p.suffix in (".yaml", ".yml", ".json"))
    if not files:
        print(f"no *.{kind}.* files under {target}")
        raise SystemExit(2)
    sizes = sorted({n for n in (1, 2, 3, 4, 6, 9, 16, 32, 63, len(files)) if n <= len(files)})
    print(f"{kind} files of {target}: best of {RUNS} alternate runs, {os.cpu_count()} cores")
    for count in sizes:
        subset = files[:count]
        wall(subset, "1")  # warm-up: bytecode and file caches
        serial, spread = float("inf"), float("inf")
        for _ in range(RUNS):
            serial = min(serial, wall(subset, "1"))
            spread = min(spread, wall(subset, ""))
        print(f"  {count:4d} files: one process {serial:6.3f} s, default {spread:6.3f} s "
              f"({spread / serial:.2f}x)   load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
