"""Expression evaluation speed per engine at a 1 KB and a 100 KB context, through the isolated workers, and the
isolation overhead (worker round trip minus the same evaluation in-process).

Usage: python bench/expressions.py   (goals at 1 KB: DataWeave median <= 2 ms, JSONata and jq <= 0.5 ms,
isolation <= 1 ms)
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from jctl.expr import EvalOptions, bindings, dataweave, evaluate, jq, jsonata, shutdown  # noqa: E402

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)
EXPRESSIONS = {
    "dataweave": "{id: context.id, total: sum(context.items map $.price), ok: context.status == 'PENDING'}",
    "jsonata": "{'id': context.id, 'total': $sum(context.items.price), 'ok': context.status = 'PENDING'}",
    "jq": "{id: .context.id, total: ([.context.items[].price] | add), ok: (.context.status == \"PENDING\")}",
}


def make_context(size_bytes: int) -> dict[str, Any]:
    items: list[dict[str, Any]] = []
    context = {"id": "order-1", "status": "PENDING", "items": items}
    while len(json.dumps(context)) < size_bytes:
        items.append({"sku": f"SKU-{len(items):05d}", "price": len(items) % 17, "note": "x" * 20})
    return context


def timings(function: Callable[[], Any], budget_s: float = 1.5, minimum: int = 20) -> list[float]:
    samples: list[float] = []
    started = time.perf_counter()
    while len(samples) < minimum or time.perf_counter() - started < budget_s:
        begin = time.perf_counter()
        function()
        samples.append(time.perf_counter() - begin)
    return samples


def in_process(lang: str, expr: str, values: dict[str, Any], engine: Any) -> Callable[[], Any]:
    document = bindings.with_aliases(values)
    now_ms = int(NOW.timestamp() * 1000)
    if lang == "jsonata":
        return lambda: jsonata.evaluate_document(expr, document, now_ms, None, 5000)
    if lang == "jq":
        return lambda: jq.evaluate_document(expr, document, now_ms)

    def run_dataweave() -> Any:
        request, _ = dataweave.request_for(expr, values, bindings.context_aliases(values), NOW, None, None)
        return json.loads(engine.handle(request)["json"])

    return run_dataweave


def main() -> None:
    import tempfile

    engine = dataweave.WorkerEngine(512, tempfile.mkdtemp(prefix="jctl-bench-"))
    options = EvalOptions(now=NOW)
    print(f"{'engine':<10} {'context':>8} {'evals/s':>9} {'median ms':>10} {'in-proc ms':>11} {'isolation ms':>13}")
    for size, label in ((1024, "1 KB"), (100 * 1024, "100 KB")):
        values = bindings.build_bindings(make_context(size), platform={"environment": "bench"})
        for lang, expr in EXPRESSIONS.items():
            isolated = lambda: evaluate(lang, expr, values, options)  # noqa: E731
            local = in_process(lang, expr, values, engine)
            assert isolated() == local(), lang
            worker_times, local_times = timings(isolated), timings(local)
            median = statistics.median(worker_times) * 1000
            local_median = statistics.median(local_times) * 1000
            print(f"{lang:<10} {label:>8} {len(worker_times) / sum(worker_times):>9.0f} {median:>10.2f} "
                  f"{local_median:>11.2f} {median - local_median:>13.2f}")
    shutdown()


if __name__ == "__main__":
    main()
