"""History written by a wide parallel: bytes of history per trigger while N branches wait, each on its own timer
(staggered by a second), as `clock advance` fires them one by one.

Usage: python bench/parallel_history.py [N]   (default 1500; goal: the bytes per trigger do not grow with N)
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from jctl.engine.runner import Runner  # noqa: E402
from jctl.store import Store  # noqa: E402


def spec(width: int) -> dict[str, object]:
    branches = [{"name": f"b{i}", "start": "nap", "states": {
        "nap": {"type": "timer", "timer": {"duration": f"PT{i + 1}S"}, "next": "end"}, "end": {"type": "succeed"}}}
        for i in range(width)]
    return {"apiVersion": "v1", "kind": "Journey", "metadata": {"name": "wide", "version": "0.1.0"},
            "spec": {"start": "fan", "states": {
                "fan": {"type": "parallel", "parallel": {"branches": branches, "join": {"strategy": "allOf"}},
                        "next": "done"}, "done": {"type": "succeed"}}}}


def main() -> None:
    width = int(sys.argv[1]) if len(sys.argv) > 1 else 1500
    folder = Path(tempfile.mkdtemp())
    path = folder / "wide.journey.yaml"
    path.write_text(yaml.safe_dump(spec(width)))
    runner = Runner(Store.open(folder / "jctl.db"))
    journey_id = runner.start(path, {})["journeyId"]
    size = lambda: sum(len(json.dumps(e.data)) for e in runner.store.history(journey_id))  # noqa: E731
    entered = size()
    moves = min(width - 1, 100)
    began = time.perf_counter()
    runner.advance(timedelta(seconds=moves))
    elapsed = time.perf_counter() - began
    per_trigger = (size() - entered) / moves
    print(f"{width} branches: entry event {entered / 1024:.1f} KB; {moves} timer triggers: "
          f"{per_trigger:.0f} bytes of history each, {elapsed / moves * 1000:.1f} ms each")


if __name__ == "__main__":
    main()
