"""Load on one server: 200 concurrent starts and 200 concurrent step submissions, half of each sent twice with
the same Idempotency-Key. Nothing is lost, nothing is applied twice, nothing answers 5xx. (Counts, not timings:
bench/serve.py prints the throughput and latency figures.)"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import httpx
from serving import running_server

from jctl.serve.engine import ServeSettings

REPO = Path(__file__).resolve().parents[1]
API = "/api/v1/journeys"
STEP = "awaitManagerDecision"


async def fire(base: str, requests: list[tuple[str, dict[str, Any], dict[str, str]]]) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=len(requests))
    async with httpx.AsyncClient(base_url=base, timeout=300, limits=limits) as http:
        return list(await asyncio.gather(*(http.post(url, json=body, headers=headers)
                                           for url, body, headers in requests)))


def test_concurrent_starts_and_steps_lose_nothing_and_apply_nothing_twice(tmp_path: Path) -> None:
    db = tmp_path / "jctl.db"
    settings = ServeSettings(folders=[REPO / "specs" / "examples" / "expense-approval"], db=db, simulated_clock=True)
    start = f"{API}/expense-approval/start"
    starts = [(start, {"claimId": f"u{i}", "amount": 1}, {}) for i in range(100)]
    starts += [(start, {"claimId": f"k{i // 2}", "amount": 1}, {"Idempotency-Key": f"start-{i // 2}"})
               for i in range(100)]
    with running_server(settings) as base:
        started = asyncio.run(fire(base, starts))
        assert sorted({r.status_code for r in started}) == [200]
        ids = [r.json()["journeyId"] for r in started]
        for first, second in zip(started[100::2], started[101::2]):
            assert first.json() == second.json()  # the repeat replayed the first answer
        distinct = list(dict.fromkeys(ids))
        assert len(distinct) == 150

        plain, keyed = distinct[:100], distinct[100:]
        decision = {"decision": "APPROVE", "manager": "load"}
        steps = [(f"{API}/{i}/steps/{STEP}", decision, {}) for i in plain]
        steps += [(f"{API}/{i}/steps/{STEP}", decision, {"Idempotency-Key": f"step-{i}"}) for i in keyed for _ in (1, 2)]
        stepped = asyncio.run(fire(base, steps))
        assert sorted({r.status_code for r in stepped}) == [200]
        assert {r.json()["phase"] for r in stepped} == {"SUCCEEDED"}
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*), SUM(phase = 'SUCCEEDED') FROM instances").fetchone() == (150, 150)
        signals = dict(conn.execute("SELECT instance_id, COUNT(*) FROM events WHERE type = 'signal.received' "
                                    "GROUP BY instance_id").fetchall())
    assert signals == {journey_id: 1 for journey_id in distinct}
