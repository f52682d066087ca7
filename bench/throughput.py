"""Journeys completed per second through the Python API, and the cost of one poll round.

- expense-approval (start -> manager step -> outcome, with its mocks) through `Runner`: serial in this process, then
  1, 2 and 4 processes sharing one SQLite store (goals: >= 180/s serial; 4 processes >= 2x one), and 4 processes
  each on its own store: what the machine allows without any sharing, so the store's part of the 4-process figure
  is the difference between the two.
- one poll round of report-export (timer fires -> HTTP GET (mocked) -> DataWeave choice -> count -> next timer),
  driven by `Runner.advance`, against `python -c "import typer, rich"` (goal: <= 0.075x).

Figures are medians and rates measured in one run (jctl byte-compiled first, PYTHONDONTWRITEBYTECODE unset); the load
average is printed because the machine is shared. The processes share one scheduling group (Linux autogroup: one
per session), so while other sessions keep the cores busy, 4 processes get about the CPU share of one.
Usage: python bench/throughput.py [--journeys 400] [--rounds 200] [--runs 15]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from jctl.engine.runner import Runner  # noqa: E402
from jctl.store import Store  # noqa: E402
from jctl.tasks.mocks import load_mocks  # noqa: E402

EXPENSE = ROOT / "specs" / "examples" / "expense-approval"
EXPENSE_SPEC = EXPENSE / "expense-approval.journey.yaml"
DECISION = {"decision": "APPROVE", "manager": "bench"}
REPORT_SPEC = ROOT / "specs" / "examples" / "report-export" / "report-export.journey.yaml"
# the example's own rules, with the poll answering RUNNING for ever so every round takes the same path
REPORT_MOCKS = {"mocks": [
    {"match": {"operationRef": "reports.createExport"}, "respond": {"status": 202, "body": {"exportId": "exp-1"}}},
    {"match": {"method": "GET", "url": "https://reports.example.com/v2/exports/*"},
     "respond": {"status": 200, "body": {"state": "RUNNING"}}},
]}


def one_journey(runner: Runner, mocks: dict[str, Any], n: int) -> None:
    status = runner.start(EXPENSE_SPEC, {"claimId": f"c{n}", "amount": 10}, mocks=mocks)
    outcome = runner.signal(status["journeyId"], DECISION, step="awaitManagerDecision")
    assert outcome["status"] == "EXPENSE_APPROVED", outcome


def serial(db: Path, journeys: int) -> tuple[float, float]:
    """Journeys per second, one runner in this process (warmed by one journey first), and the CPU milliseconds a
    journey takes in this process and its expression workers (steadier than the rate on a shared machine)."""
    runner = Runner(Store.open(db))
    mocks = load_mocks(EXPENSE / "expense-approval.mocks.yaml")
    one_journey(runner, mocks, -1)
    cpu = time.process_time() + workers_cpu_s()
    began = time.perf_counter()
    for n in range(journeys):
        one_journey(runner, mocks, n)
    took = time.perf_counter() - began
    cpu = time.process_time() + workers_cpu_s() - cpu
    runner.close()
    return journeys / took, cpu / journeys * 1000


def workers_cpu_s() -> float:
    """CPU seconds used so far by this process's expression worker processes (Linux; 0 elsewhere)."""
    from jctl.expr import pools

    total = 0.0
    for pool in pools._POOLS.values():
        for each in (getattr(pool, "_active", None), getattr(pool, "_spare", None)):
            try:
                fields = Path(f"/proc/{each.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
            except (AttributeError, OSError):
                continue
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def child(db: str, journeys: int, offset: int, ready: Any, go: Any, spent: Any) -> None:
    runner = Runner(Store.open(Path(db)))
    mocks = load_mocks(EXPENSE / "expense-approval.mocks.yaml")
    one_journey(runner, mocks, -1 - offset)  # warm: imports, expression workers, prepared statements
    ready.release()
    go.wait()
    cpu = time.process_time() + workers_cpu_s()
    for n in range(journeys):
        one_journey(runner, mocks, offset + n)
    spent.put(time.process_time() + workers_cpu_s() - cpu)
    runner.close()


def processes(db: Path, count: int, journeys: int, *, own_stores: bool = False) -> tuple[float, float]:
    """Journeys per second with `count` processes on one store (with `own_stores`, each on a store of its own),
    each running journeys/count of them, timed from the moment all are warm until the last finishes; and the CPU
    milliseconds a journey took in them (with their expression workers)."""
    context = multiprocessing.get_context("spawn")
    ready, go, spent = context.Semaphore(0), context.Event(), context.Queue()
    share = journeys // count
    stores = [db.with_stem(f"{db.stem}-{i}") if own_stores else db for i in range(count)]
    workers = [context.Process(target=child, args=(str(stores[i]), share, 1_000_000 * (i + 1), ready, go, spent))
               for i in range(count)]
    for worker in workers:
        worker.start()
    for _ in workers:
        ready.acquire()
    began = time.perf_counter()
    go.set()
    try:  # timed until the last one reports; one that died instead never will
        cpu_s = sum(spent.get(timeout=600) for _ in workers)
    except queue.Empty:
        raise SystemExit(f"a bench process failed (exits {[w.exitcode for w in workers]})") from None
    for worker in workers:
        worker.join()
        if worker.exitcode != 0:
            raise SystemExit(f"a bench process failed (exit {worker.exitcode})")
    return share * count / (time.perf_counter() - began), cpu_s / (share * count) * 1000


def poll_rounds(db: Path, rounds: int) -> tuple[list[float], float]:
    """Milliseconds per poll round: each `advance` fires the timer, calls the mocked GET, takes the DataWeave
    choice, counts the poll and schedules the next timer; and the CPU milliseconds of a round (this process and its
    DataWeave worker)."""
    runner = Runner(Store.open(db))
    status = runner.start(REPORT_SPEC, {"reportType": "sales", "requestedBy": "bench", "pollSeconds": 1},
                          mocks=REPORT_MOCKS)
    assert status["waitingFor"] == "timer", status
    samples = []
    cpu = 0.0
    for n in range(rounds + 3):  # the first rounds warm the DataWeave worker
        if n == 3:
            cpu = time.process_time() + workers_cpu_s()
        began = time.perf_counter()
        fired = runner.advance(timedelta(seconds=1))
        samples.append((time.perf_counter() - began) * 1000)
        assert len(fired) == 1 and fired[0].endswith("-> waitBeforePoll"), fired  # one whole round, back to the timer
    cpu = time.process_time() + workers_cpu_s() - cpu
    runner.close()
    return samples[3:], cpu / rounds * 1000


def baseline_ms(runs: int) -> float:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    samples = []
    for _ in range(runs):
        began = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import typer, rich"], env=env, check=True)
        samples.append((time.perf_counter() - began) * 1000)
    return statistics.median(samples)


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--journeys", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--runs", type=int, default=15, help="runs of the import baseline")
    args = parser.parse_args()
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # measured as an installed package runs: byte-compiled
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "jctl")], check=True)
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as folder:
        rate_serial, cpu_ms = serial(Path(folder) / "serial.db", args.journeys)
        rate_one, cpu_one = processes(Path(folder) / "one.db", 1, args.journeys)
        rate_two, _ = processes(Path(folder) / "two.db", 2, args.journeys)
        rate_four, cpu_four = processes(Path(folder) / "four.db", 4, args.journeys)
        rate_apart, cpu_apart = processes(Path(folder) / "apart.db", 4, args.journeys, own_stores=True)
        rounds, round_cpu_ms = poll_rounds(Path(folder) / "poll.db", args.rounds)
    base = baseline_ms(args.runs)
    round_ms = statistics.median(rounds)
    print(f"{args.journeys} expense-approval journeys (start -> manager step -> outcome) per row")
    print(f"{'figure':<40} {'value':>12} {'goal':>16}  verdict")
    print(f"{'journeys/s, serial (this process)':<40} {rate_serial:>12.1f} {'>= 180/s':>16}  "
          f"{verdict(rate_serial >= 180)}")
    print(f"{'  CPU ms a journey (+ its workers)':<40} {cpu_ms:>12.2f}")
    print(f"{'journeys/s, 1 process':<40} {rate_one:>12.1f}")
    print(f"{'journeys/s, 2 processes, one store':<40} {rate_two:>12.1f} {'':>16}  ({rate_two / rate_one:.2f}x)")
    print(f"{'journeys/s, 4 processes, one store':<40} {rate_four:>12.1f} {'>= 2x one':>16}  "
          f"{verdict(rate_four >= 2 * rate_one)} ({rate_four / rate_one:.2f}x)")
    print(f"{'journeys/s, 4 processes, 4 stores':<40} {rate_apart:>12.1f} {'':>16}  ({rate_apart / rate_one:.2f}x: "
          f"no sharing; one store reaches {rate_four / rate_apart:.2f}x of it)")
    # what the cores allow: one process already keeps `busy` cores busy (itself and its workers, in turn)
    busy = rate_one * cpu_one / 1000
    cores = os.cpu_count() or 1
    print(f"{'  CPU ms a journey, 1 / 4 / 4 apart':<40} {f'{cpu_one:.2f} / {cpu_four:.2f} / {cpu_apart:.2f}':>12}")
    print(f"{'  cores 1 process keeps busy':<40} {busy:>12.2f}  (4 processes on {cores} cores: at most "
          f"{min(4 * busy, cores) / busy:.2f}x one at 1 process's CPU a journey)")
    print(f"{'poll round, median ms':<40} {round_ms:>12.2f}")
    print(f"{'  p95 ms':<40} {sorted(rounds)[int(len(rounds) * 0.95)]:>12.2f}")
    print(f"{'  CPU ms a round (+ its worker)':<40} {round_cpu_ms:>12.2f}")
    print(f"{'python -c import typer, rich (ms)':<40} {base:>12.1f}")
    print(f"{'poll round / import':<40} {round_ms / base:>11.3f}x {'<= 0.075x':>16}  "
          f"{verdict(round_ms / base <= 0.075)}")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
