"""Engine throughput: transitions/second on a 1,000-iteration transform loop (with the share of time spent in
expressions vs the store), and the cost of one tick firing 100 due timers with 10,000 vs 1,000 paused instances.

Usage: python bench/run.py [--lang jsonata|dataweave|jq] [--iterations 1000] [--small 1000] [--large 10000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from jctl.engine.runner import Runner  # noqa: E402
from jctl.store import Instance, NewDueWork, NewEvent, Store  # noqa: E402
from jctl.store.models import new_instance_id  # noqa: E402

LOOP_EXPRESSIONS = {
    "jsonata": ("context.i + 1", "context.i < {n}"),
    "jq": (".context.i + 1", ".context.i < {n}"),
    "dataweave": ("context.i + 1", "context.i < {n}"),
}


@dataclass
class Timings:
    expressions: float = 0.0
    store: float = 0.0


def timed(function: Callable[..., Any], timings: Timings, field: str) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            setattr(timings, field, getattr(timings, field) + time.perf_counter() - began)

    return wrapper


class TimedRunner(Runner):
    """Accumulates time spent inside expression evaluation."""

    def __init__(self, store: Store, timings: Timings):
        super().__init__(store)
        self.timings = timings

    def _evaluator(self):  # type: ignore[override]
        return timed(super()._evaluator(), self.timings, "expressions")


def write(path: Path, states: dict[str, Any], start: str, name: str) -> Path:
    document = {"apiVersion": "v1", "kind": "Journey", "metadata": {"name": name, "version": "0.1.0"},
                "spec": {"start": start, "states": states}}
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def bench_loop(folder: Path, lang: str, iterations: int) -> None:
    increment, check = LOOP_EXPRESSIONS[lang]
    states = {
        "increment": {"type": "transform", "transform": {"mapper": {"lang": lang, "expr": increment},
                                                         "target": {"kind": "var"}, "resultVar": "i"},
                      "next": "check"},
        "check": {"type": "choice", "choices": [{"when": {"predicate": {"lang": lang, "expr": check.format(
            n=iterations)}}, "next": "increment"}], "default": "done"},
        "done": {"type": "succeed", "outputVar": "i"},
    }
    path = write(folder / f"loop-{lang}.journey.yaml", states, "increment", "transform-loop")
    store = Store.open(folder / f"loop-{lang}.db")
    timings = Timings()
    store.commit_transitions = timed(store.commit_transitions, timings, "store")  # type: ignore[method-assign]
    runner = TimedRunner(store, timings)
    runner.start(path, {"i": 0})  # warm the engine workers and the linter
    timings.expressions = timings.store = 0.0
    began = time.perf_counter()
    outcome = runner.start(path, {"i": 0})
    elapsed = time.perf_counter() - began
    transitions = store.get_instance(outcome["journeyId"]).version
    assert outcome["output"] == iterations, outcome
    print(f"transform loop ({lang}, {iterations} iterations): {transitions} transitions in {elapsed:.2f} s "
          f"= {transitions / elapsed:,.0f} transitions/s")
    expressions, committing = timings.expressions, timings.store
    print(f"  time in expressions {expressions / elapsed:.0%}, in store commits {committing / elapsed:.0%}, "
          f"other (interpreter, lint, load) {(elapsed - expressions - committing) / elapsed:.0%}")


def seed_paused(store: Store, definition: dict[str, Any], path: Path, total: int, due_now: int) -> None:
    now = store.now()
    batch = []
    for index in range(total):
        due = now if index < due_now else now + timedelta(days=365)
        instance = Instance(id=new_instance_id(), journey_name="timer-fleet", kind="Journey", definition=definition,
                            phase="RUNNING", current_state="pause",
                            cursor={"specPath": str(path), "paused": "timer", "mockCounters": {}},
                            context={"n": index}, mocks=None)
        batch.append((instance, [NewEvent("journey.started", "pause", {})], [NewDueWork("timer", due, "pause")]))
        if len(batch) == 1000:
            store.create_instances(batch)
            batch = []
    if batch:
        store.create_instances(batch)


def bench_tick(folder: Path, sizes: tuple[int, int], due: int = 100) -> None:
    states = {"pause": {"type": "timer", "timer": {"duration": "PT1H"}, "next": "done"}, "done": {"type": "succeed"}}
    path = write(folder / "fleet.journey.yaml", states, "pause", "timer-fleet")
    definition = yaml.safe_load(path.read_text())
    costs = {}
    for size in sizes:
        store = Store.open(folder / f"fleet-{size}.db")
        seed_paused(store, definition, path, size, due)
        runner = Runner(store)
        began = time.perf_counter()
        fired = runner.tick()
        costs[size] = time.perf_counter() - began
        assert len(fired) == due, fired[:3]
        print(f"tick firing {due} due timers among {size:,} paused instances: {costs[size] * 1000:.0f} ms "
              f"({costs[size] / due * 1000:.1f} ms per timer)")
    small, large = sizes
    print(f"  tick cost ratio {large:,} vs {small:,} instances: {costs[large] / costs[small]:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lang", default="jsonata", choices=sorted(LOOP_EXPRESSIONS))
    parser.add_argument("--iterations", type=int, default=1000)
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--large", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        bench_loop(Path(folder), args.lang, args.iterations)
        bench_tick(Path(folder), (args.small, args.large))


if __name__ == "__main__":
    main()
