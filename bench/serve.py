"""`jctl serve` under load on loopback: N concurrent starts, then N concurrent step submissions (half of each
repeated with the same Idempotency-Key), plus N concurrent status polls; prints requests/s and p50/p99 latency.

Usage: python bench/serve.py [N]   (default 200)
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import httpx  # noqa: E402
from serving import running_server  # noqa: E402

from jctl.serve.engine import ServeSettings  # noqa: E402

API = "/api/v1/journeys"
Request = tuple[str, str, dict[str, Any] | None, dict[str, str]]


async def timed(http: httpx.AsyncClient, request: Request) -> tuple[float, httpx.Response]:
    method, url, body, headers = request
    began = time.perf_counter()
    response = await http.request(method, url, json=body, headers=headers)
    return time.perf_counter() - began, response


async def phase(base: str, requests: list[Request]) -> tuple[float, list[float], list[httpx.Response]]:
    async with httpx.AsyncClient(base_url=base, timeout=600, limits=httpx.Limits(max_connections=len(requests))) as http:
        began = time.perf_counter()
        results = await asyncio.gather(*(timed(http, r) for r in requests))
        return time.perf_counter() - began, [t for t, _ in results], [r for _, r in results]


def report(name: str, wall: float, latencies: list[float], responses: list[httpx.Response]) -> None:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    codes = sorted({r.status_code for r in responses})
    print(f"{name:<8} {len(responses):>5} requests  {len(responses) / wall:8.1f} req/s  "
          f"p50 {statistics.median(ordered) * 1000:8.1f} ms  p99 {p99 * 1000:8.1f} ms  status {codes}")


def main(count: int) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        settings = ServeSettings(folders=[ROOT / "specs" / "examples" / "expense-approval"],
                                 db=Path(scratch) / "jctl.db", simulated_clock=True)
        with running_server(settings) as base:
            start = f"{API}/expense-approval/start"
            half = count // 2
            starts: list[Request] = [("POST", start, {"claimId": f"u{i}", "amount": 1}, {}) for i in range(half)]
            starts += [("POST", start, {"claimId": f"k{i}", "amount": 1}, {"Idempotency-Key": f"s{i // 2}"})
                       for i in range(count - half)]
            wall, latencies, responses = asyncio.run(phase(base, starts))
            report("start", wall, latencies, responses)
            ids = list(dict.fromkeys(r.json()["journeyId"] for r in responses))
            decision = {"decision": "APPROVE", "manager": "bench"}
            step = "steps/awaitManagerDecision"
            steps: list[Request] = [("POST", f"{API}/{i}/{step}", decision, {}) for i in ids[:half]]
            steps += [("POST", f"{API}/{i}/{step}", decision, {"Idempotency-Key": f"t{i}"})
                      for i in ids[half:half + (count - half) // 2] for _ in (1, 2)]
            wall, latencies, responses = asyncio.run(phase(base, steps))
            report("step", wall, latencies, responses)
            polls: list[Request] = [("GET", f"{API}/{ids[n % len(ids)]}", None, {}) for n in range(count)]
            wall, latencies, responses = asyncio.run(phase(base, polls))
            report("status", wall, latencies, responses)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
