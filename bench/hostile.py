"""How long hostile inputs take to be refused (each should end in well under a second or two).

Usage: python bench/hostile.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from jctl.checks import Workspace  # noqa: E402
from jctl.lint import lint_file  # noqa: E402

CASES: dict[str, bytes] = {
    "alias bomb (9 levels of 9)": (
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
        + "".join(f"{c}: &{c} [" + ",".join([f"*{p}"] * 9) + "]\n" for p, c in zip("abcdefgh", "bcdefghi"))
    ).encode(),
    "20,000-deep flow nesting": ("a: " + "[" * 20000 + "]" * 20000).encode(),
    "binary (PNG header)": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 1000,
    "non-UTF-8": b"apiVersion: v1\nkind: \xff\xfe\n" * 1000,
    "empty": b"",
    "top-level list": b"- a\n- b\n" * 1000,
    "7,000-state journey (35,000 nodes)": (
        "apiVersion: v1\nkind: Journey\nmetadata:\n  name: big\n  version: 1.0.0\nspec:\n  start: s0\n  states:\n"
        + "".join(f"    s{i}:\n      type: transform\n      next: s{i + 1}\n" for i in range(7000))
        + "    s7000:\n      type: succeed\n"
    ).encode(),
    "5 MB file": b"a: " + b"x" * (5 * 1024 * 1024) + b"\n",
    "1.9 MB journey (60,000 states)": (
        "apiVersion: v1\nkind: Journey\nspec:\n  start: s0\n  states:\n"
        + "".join(f"    s{i}:\n      type: succeed\n" for i in range(60000))
    ).encode(),
}


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for label, content in CASES.items():
            path = Path(tmp) / "hostile.journey.yaml"
            path.write_bytes(content)
            started = time.perf_counter()
            found = lint_file(path, Workspace(expressions=False))
            elapsed = time.perf_counter() - started
            first = f"{found[0].rule}: {found[0].message[:60]}" if found else "no diagnostics"
            print(f"{label:<38} {elapsed * 1000:8.1f} ms  {len(found):>6} diagnostic(s)  {first}")
        refuse_huge_input(Path(tmp))


def refuse_huge_input(tmp: Path) -> None:
    """`jctl run --input @60MB.json` in a subprocess: its time (with and without interpreter start-up) and peak
    memory to refuse the input (goal: the refusal under 0.2 s and 100 MB). A malformed inline input goes through the
    same command start-up (Typer, rich) without any file: the difference is the cost of the refusal itself."""
    import json
    import os
    import subprocess

    big = tmp / "huge-input.json"
    big.write_text(json.dumps({"orderId": "x" * (60 * 1024 * 1024)}))
    spec = ROOT / "tests" / "cases" / "runner" / "approval.journey.yaml"
    env = dict(os.environ, PYTHONPATH=str(ROOT), JCTL_DB=str(tmp / "bench.db"))
    commands = {"jctl --version (start-up only)": ["--version"],
                "jctl run --input '{' (CLI start-up)": ["run", str(spec), "--input", "{"],
                "jctl run --input @60MB.json (refused)": ["run", str(spec), "--input", f"@{big}"]}
    # a small launcher process, so the child's peak RSS is not inflated by this process's pages at fork time
    launcher = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
                "r = subprocess.run(sys.argv[1:], capture_output=True); "
                "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, r.returncode)")
    from jctl.cli.output import read_json_argument
    from jctl.limits import LimitExceeded, Limits

    started = time.perf_counter()
    try:
        read_json_argument(f"@{big}", "input", Limits().input)
    except LimitExceeded:
        pass
    print(f"{'refusing it in-process (read_json_argument)':<38} {(time.perf_counter() - started) * 1000:8.1f} ms")
    for label, args in commands.items():
        done = subprocess.run([sys.executable, "-c", launcher, sys.executable, "-m", "jctl", *args], env=env,
                              capture_output=True, text=True)
        elapsed, peak_kb, code = done.stdout.split()
        print(f"{label:<38} {float(elapsed) * 1000:8.1f} ms  peak RSS {int(peak_kb) / 1024:6.1f} MB  exit {code}")


if __name__ == "__main__":
    main()
