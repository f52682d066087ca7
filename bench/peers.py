"""jctl against Spectral and Redocly CLI on the same OpenAPI and Arazzo files, in one run.

Installs @stoplight/spectral-cli and @redocly/cli from npm into a temporary folder (or reuses PEERS_NPM_DIR),
runs each tool on each file set (one warm-up, then PEERS_RUNS=3 timed runs in a row), and prints the best wall and
least CPU times, jctl's ratio to the faster peer, and the findings side by side matched by file and line. Without npm only jctl is timed, and the script says so.
Usage: python bench/peers.py [DIR]   (default ../shared/corpus; goal: jctl <= 0.5x the faster peer on both sets)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from jctl.spec.loader import load_document  # noqa: E402

Finding = tuple[str, int, str, str]  # file, 1-based line, tool:rule, message
SPECTRAL_RULESET = 'extends: ["spectral:oas", "spectral:arazzo"]\n'
SERVED = "jctl served"
RUNS = int(os.environ.get("PEERS_RUNS", "3"))  # timed runs per tool and set; the best counts (the machine is shared)


def install_peers(folder: Path) -> dict[str, Path] | None:
    npm = shutil.which("npm")
    if npm is None:
        print("npm is not installed: skipping Spectral and Redocly, timing jctl alone")
        return None
    bins = {"spectral": folder / "node_modules/.bin/spectral", "redocly": folder / "node_modules/.bin/redocly"}
    if not all(path.exists() for path in bins.values()):
        print(f"installing @stoplight/spectral-cli and @redocly/cli into {folder} ...", flush=True)
        result = subprocess.run([npm, "install", "--silent", "--no-audit", "--no-fund", "--prefix", str(folder),
                                 "@stoplight/spectral-cli", "@redocly/cli"], capture_output=True, text=True)
        if result.returncode != 0 or not all(path.exists() for path in bins.values()):
            print(f"npm install failed (exit {result.returncode}): skipping the peers\n{result.stderr[-500:]}")
            return None
    return bins


class Timing(NamedTuple):
    wall: float  # the best wall time of the timed runs
    cpu: float  # the least CPU time (user + system, every thread and child) of the timed runs
    output: str


def timed(commands: dict[str, list[str]], cwd: Path) -> dict[str, Timing]:
    """Each tool's best wall time and least CPU time of RUNS runs in a row after one untimed warm-up (every tool
    starts from its caches, as installed: jctl from its bytecode, which this environment may otherwise forbid
    writing). A tool's runs follow one another, as a user's would: run right after a Node.js peer exits, jctl
    measured 10-30% slower. Every tool runs in the same empty folder: none finds a configuration (the repository's
    pyproject.toml included)."""
    env = dict(os.environ, NO_COLOR="1", REDOCLY_TELEMETRY="off", REDOCLY_SUPPRESS_UPDATE_NOTICE="true",
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    timings: dict[str, Timing] = {}
    for tool, command in commands.items():
        output = subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=env).stdout
        wall = cpu = float("inf")
        for _ in range(RUNS):
            started, cpu_before = time.perf_counter(), _children_cpu()
            subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=env)
            wall = min(wall, time.perf_counter() - started)
            cpu = min(cpu, _children_cpu() - cpu_before)
        timings[tool] = Timing(wall, cpu, output)
    return timings


def _children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def jctl_findings(output: str, cwd: Path) -> list[Finding]:
    try:
        diagnostics = json.loads(output)["diagnostics"]
    except (ValueError, KeyError):
        return []
    return [(str((cwd / d["file"]).resolve()), d["line"], f"jctl:{d['rule']}", d["message"]) for d in diagnostics]


def spectral_findings(output: str) -> list[Finding]:
    start = output.find("[")
    try:
        results = json.JSONDecoder().raw_decode(output[start:])[0] if start >= 0 else []
    except ValueError:
        return []
    return [(str(Path(r["source"]).resolve()), r["range"]["start"]["line"] + 1, f"spectral:{r['code']}",
             r["message"]) for r in results]


def redocly_findings(output: str, cwd: Path) -> list[Finding]:
    problems: list[Any] = []
    decoder, position = json.JSONDecoder(), output.find("{")
    while position >= 0:
        try:
            document, end = decoder.raw_decode(output, position)
        except ValueError:
            break
        problems += document.get("problems", []) if isinstance(document, dict) else []
        position = output.find("{", end)
    found = []
    for problem in problems:
        location = (problem.get("location") or [{}])[0]
        file = str((cwd / location.get("source", {}).get("ref", "?")).resolve())
        line = location.get("start", {}).get("line") or _pointer_line(file, location.get("pointer", "#/"))
        found.append((file, line, f"redocly:{problem['ruleId']}", problem["message"]))
    return found


def _pointer_line(file: str, pointer: str) -> int:
    parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer.lstrip("#").split("/")[1:]]
    try:
        document = load_document(Path(file))
    except Exception:  # noqa: BLE001 - a peer may point into a file jctl cannot load
        return 0
    path = tuple(int(p) if p.isdigit() else p for p in parts)
    while path and path not in document.source_map.positions:
        path = path[:-1]
    return document.source_map.line_col(path, "value")[0]


def compare(label: str, files: list[Path], bins: dict[str, Path] | None, work: Path) -> None:
    names = [str(f.resolve()) for f in files]
    jctl = [sys.executable, "-m", "jctl", "validate", "--format", "json", *names]
    # judged as a fresh process (no warm command server), like the peers; served: as a user's next command runs it
    commands = {"jctl": ["env", "JCTL_DAEMON=0", *jctl], SERVED: jctl}
    if bins:
        (work / ".spectral.yaml").write_text(SPECTRAL_RULESET)
        commands["spectral"] = [str(bins["spectral"]), "lint", "-r", str(work / ".spectral.yaml"), "-f", "json",
                                "--fail-severity", "error", *names]
        commands["redocly"] = [str(bins["redocly"]), "lint", "--format", "json", *names]
    timings = timed(commands, work)
    parse: dict[str, Callable[[str], list[Finding]]] = {
        "jctl": lambda out: jctl_findings(out, work), SERVED: lambda out: jctl_findings(out, work),
        "spectral": spectral_findings, "redocly": lambda out: redocly_findings(out, work)}
    runs = {tool: (timing.wall, parse[tool](timing.output)) for tool, timing in timings.items()}
    print(f"\n== {label}: {len(files)} files")
    for tool, (seconds, found) in runs.items():
        cpu = "(CPU in the server)" if tool == SERVED else f"{timings[tool].cpu:6.2f} s CPU "
        print(f"  {tool:<12} {seconds:6.2f} s wall {cpu:>19} {len(found):5d} findings")
    assert runs[SERVED][1] == runs["jctl"][1], "the warm server's findings differ from the fresh process's"
    del runs[SERVED]
    peers = [tool for tool in ("spectral", "redocly") if tool in runs]
    if peers:
        print(f"  jctl / faster peer = {runs['jctl'][0] / min(runs[t][0] for t in peers):.2f}x   (goal <= 0.5x)   "
              f"CPU: {timings['jctl'].cpu / min(timings[t].cpu for t in peers):.2f}x   (load average "
              f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores: wall times stretch on a busy machine)")
        print(f"  jctl served by the warm command server / faster peer = "
              f"{timings[SERVED].wall / min(runs[t][0] for t in peers):.2f}x")
    side_by_side(runs)


def side_by_side(runs: dict[str, tuple[float, list[Finding]]]) -> None:
    by_place: dict[tuple[str, int], dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for tool, (_, found) in runs.items():
        for file, line, rule, message in found:
            by_place[(file, line)][tool].append(f"{rule}: {message[:110]}")
    base = Path.cwd()
    for (file, line), tools in sorted(by_place.items()):
        shown = os.path.relpath(file, base)
        for tool, entries in sorted(tools.items()):
            for entry in entries:
                print(f"  {shown}:{line:<5} {tool:<9} {entry}")


def main() -> None:
    default = ROOT.parent / "shared" / "corpus"
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else default
    if not target.is_dir():
        print(f"{target} is not a directory")
        raise SystemExit(2)
    sets = {kind: sorted(p for p in target.rglob(f"*.{kind}.*") if p.suffix in (".yaml", ".yml", ".json"))
            for kind in ("openapi", "arazzo")}
    cached = os.environ.get("PEERS_NPM_DIR")
    with tempfile.TemporaryDirectory(prefix="jctl-peers-") as temporary:
        folder = Path(cached) if cached else Path(temporary)
        bins = install_peers(folder)
        for kind, files in sets.items():
            if files:
                compare(f"{kind} files", files, bins, Path(temporary))


if __name__ == "__main__":
    main()
