"""Benchmark: store read costs should follow the work asked for, not the size of the store.

Prints get_instance cost on a store of 100,000 instances vs an almost empty one, due_work cost for 100 due
timers among 10,000 vs 1,000 paused instances, and `jctl list --format json` of everything on 100,000 instances
vs one (goal: at most 10x, judged on fresh processes, JCTL_DAEMON=0; printed without it too, where a warm command
server may answer). jctl is byte-compiled first and the commands run with PYTHONDONTWRITEBYTECODE unset.
Run: `PYTHONPATH=. python bench/store.py [--instances N]`.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from jctl.store import Instance, NewDueWork, NewEvent, Store

TARGET_RATIO = 1.5
LIST_TARGET_RATIO = 10
LIST_RUNS = 7  # alternating runs of each listing: on a shared machine one run can take twice another
SCRIPT = Path(sys.executable).with_name("jctl")  # the console script users run, when jctl is installed
JCTL = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "jctl"]
BATCH = 5_000


def definition(journey: str) -> dict:
    states = {
        f"step{n}": {"type": "task", "task": {"kind": "httpCall:v1", "operationRef": f"api.op{n}"}, "next": f"step{n + 1}"}
        for n in range(20)
    }
    return {"apiVersion": "v1", "kind": "Journey", "metadata": {"name": journey}, "spec": {"start": "step0", "states": states}}


def paused_instance(journey: str, state: str) -> Instance:
    return Instance(
        id="", journey_name=journey, kind="Journey", definition=definition(journey), phase="RUNNING",
        current_state=state, cursor={"active": [state]},
        context={"customer": {"id": random.randrange(10**9), "name": "Ada"}, "items": list(range(10))},
    )


def populate(store: Store, count: int, state: str, due_in: timedelta | None) -> list[str]:
    """`count` instances paused at `state`, each with one due-work record `due_in` from now (if given)."""
    ids: list[str] = []
    now = store.now()
    for start in range(0, count, BATCH):
        batch = []
        for n in range(start, min(count, start + BATCH)):
            due = [NewDueWork("step-timeout" if due_in > timedelta(0) else "timer", now + due_in, state)] if due_in else []
            batch.append((paused_instance(f"journey-{n % 20}", state), [NewEvent("started"), NewEvent("entered", state)], due))
        ids.extend(instance.id for instance in store.create_instances(batch))
    return ids


def per_call_us(action: Callable[[], object], calls: int) -> float:
    """Median of five runs of `calls` calls, in microseconds per call."""
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(calls):
            action()
        runs.append((time.perf_counter() - started) / calls * 1e6)
    return statistics.median(runs)


def lookup_cost(store: Store, ids: list[str], prefix: int | None) -> float:
    picks = iter(random.choices(ids, k=5 * 2_000))
    return per_call_us(lambda: store.get_instance(next(picks)[:prefix]), 2_000)


def bench_get_instance(workdir: Path, instances: int) -> tuple[float, float]:
    empty = Store.open(workdir / "empty.db")
    empty_ids = populate(empty, 1, "step3", None)
    full = Store.open(workdir / "full.db")
    started = time.perf_counter()
    full_ids = populate(full, instances, "step3", None)
    print(f"populated {instances:,} instances in {time.perf_counter() - started:.1f} s")
    worst = 0.0
    for label, prefix in (("exact id", None), ("12-char prefix", 12)):
        small, large = lookup_cost(empty, empty_ids, prefix), lookup_cost(full, full_ids, prefix)
        worst = max(worst, large / small)
        print(f"get_instance by {label:13}: {small:7.1f} us (1 instance)  {large:7.1f} us "
              f"({instances:,} instances)  ratio {large / small:.2f}")
    status_small = per_call_us(lambda: _status(empty.path, empty_ids[0][:12]), 50)
    status_large = per_call_us(lambda: _status(full.path, random.choice(full_ids)[:12]), 50)
    print(f"open+get+close (a `jctl status`): {status_small:7.1f} us vs {status_large:7.1f} us  "
          f"ratio {status_large / status_small:.2f}")
    cli_small = cli_status_ms(empty.path, empty_ids[0][:12])
    cli_large = cli_status_ms(full.path, random.choice(full_ids)[:12])
    worst = max(worst, cli_large / cli_small)
    print(f"`jctl status` process         : {cli_small:7.1f} ms (1 instance)  {cli_large:7.1f} ms "
          f"({instances:,} instances)  ratio {cli_large / cli_small:.2f}")
    list_ratio = bench_list(empty.path, full.path, instances)
    empty.close()
    full.close()
    return worst, list_ratio


def bench_list(small: Path, large: Path, instances: int) -> float:
    """`jctl list --format json` of everything, 1 instance vs `instances`, the two run alternately: as fresh processes
    (JCTL_DAEMON=0, the figure the goal is judged on: it measures how the listing scales) and as a user's shell runs
    them (a warm command server, where there is one, may answer the small listing in a fraction of a start-up)."""
    arguments = ["list", "--format", "json", "--limit", str(instances)]
    ratios = {}
    for label, environment in (("JCTL_DAEMON=0", {"JCTL_DAEMON": "0"}), ("default", {})):
        samples: dict[Path, list[float]] = {small: [], large: []}
        for _ in range(LIST_RUNS):
            for path in (small, large):
                samples[path].append(cli_ms(arguments, path, runs=1, env=environment))
        small_ms, large_ms = statistics.median(samples[small]), statistics.median(samples[large])
        ratios[label] = large_ms / small_ms
        print(f"`jctl list -f json` everything ({label:13}): {small_ms:7.1f} ms (1 instance)  {large_ms:7.1f} ms "
              f"({instances:,} instances)  ratio {large_ms / small_ms:.2f} (medians; best of each "
              f"{min(samples[large]) / min(samples[small]):.2f})")
    ratio = ratios["JCTL_DAEMON=0"]
    print(f"list goal (judged with JCTL_DAEMON=0: two fresh processes) <= {LIST_TARGET_RATIO:g}: {ratio:.2f} "
          f"{'met' if ratio <= LIST_TARGET_RATIO else 'NOT met'}")
    return ratio


def cli_ms(arguments: list[str], path: Path, runs: int, env: dict[str, str] | None = None) -> float:
    """Median wall time of the real command as a user runs it (the console script when installed), its output read
    and thrown away."""
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        result = subprocess.run([*JCTL, *arguments, "--db", str(path)], capture_output=True, check=False,
                                env={**os.environ, **(env or {})})
        samples.append((time.perf_counter() - started) * 1000)
        if result.returncode != 0:
            raise SystemExit(f"jctl {' '.join(arguments)} failed: {result.stderr.decode()}")
    return statistics.median(samples)


def cli_status_ms(path: Path, prefix: str, runs: int = 15) -> float:
    """Median wall time of the real command, as a user runs it, in a fresh process (JCTL_DAEMON=0)."""
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        result = subprocess.run([*JCTL, "status", prefix, "--db", str(path), "--format", "json"],
                                capture_output=True, check=False, env={**os.environ, "JCTL_DAEMON": "0"})
        samples.append((time.perf_counter() - started) * 1000)
        if result.returncode != 0:
            raise SystemExit(f"jctl status failed: {result.stderr.decode()}")
    return statistics.median(samples)


def _status(path: Path, prefix: str) -> None:
    with Store.open(path) as store:
        store.get_instance(prefix)


def bench_due_work(workdir: Path, small: int, large: int) -> float:
    costs = []
    for paused in (small, large):
        store = Store.open(workdir / f"paused-{paused}.db")
        populate(store, paused, "approval", timedelta(days=7))  # waiting for input, timeout far away
        populate(store, 100, "cooldown", timedelta(seconds=-1))  # timers already due
        due = store.due_work()
        assert len(due) == 100, len(due)
        costs.append(per_call_us(store.due_work, 200))
        store.close()
    ratio = costs[1] / costs[0]
    print(f"due_work (100 due timers)     : {costs[0]:7.1f} us ({small:,} paused)  {costs[1]:7.1f} us "
          f"({large:,} paused)  ratio {ratio:.2f}")
    return ratio


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=100_000)
    parser.add_argument("--paused-small", type=int, default=1_000)
    parser.add_argument("--paused-large", type=int, default=10_000)
    args = parser.parse_args(argv)
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # the commands run as an installed package does: byte-compiled
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(__file__).resolve().parents[1] / "jctl")],
                   check=True)
    random.seed(1)
    with tempfile.TemporaryDirectory(prefix="jctl-bench-") as workdir:
        lookup, listing = bench_get_instance(Path(workdir), args.instances)
        due = bench_due_work(Path(workdir), args.paused_small, args.paused_large)
    verdict = lambda ratio, target: "ok" if ratio <= target else "MISSED"  # noqa: E731
    print(f"target ratios: get_instance {lookup:.2f} (<= {TARGET_RATIO}) {verdict(lookup, TARGET_RATIO)}, "
          f"due_work {due:.2f} (<= {TARGET_RATIO}) {verdict(due, TARGET_RATIO)}, list {listing:.2f} "
          f"(<= {LIST_TARGET_RATIO}, JCTL_DAEMON=0) {verdict(listing, LIST_TARGET_RATIO)}; load average "
          f"{' '.join(f'{load:.2f}' for load in os.getloadavg())}")
    return 0 if max(lookup, due) <= TARGET_RATIO and listing <= LIST_TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
