"""A warm expression service shared by successive jctl commands, the way build tools keep a daemon.

Starting an engine worker costs more than a whole `jctl signal`; a command-line process lives for one command, so
each paid it again. The daemon is a small process that owns the same sandboxed worker pools (`jctl.expr.worker`:
same hardening, same deadline that kills a runaway worker, same memory caps) and serves evaluations over a Unix
socket in a folder only this user can enter. A command connects, sends the request it would have sent a worker of
its own, and gets the worker's answer. The first command starts the daemon; it exits after an idle spell
(`JCTL_EXPR_DAEMON_IDLE_S`, default 600 s). `JCTL_EXPR_DAEMON=0` turns it off: every command then starts its own
workers, as library callers always do.

Each build of jctl (its interpreter, its files) has its own socket, so a daemon never answers for other code.
"""

from __future__ import annotations

import hashlib
import os
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

from jctl.expr.worker import (
    STARTUP_TIMEOUT_S,
    WorkerDied,
    WorkerPool,
    _read_message,
    _write_message,
    isolated_main,
    remove_orphaned_tmpdirs,
)
from jctl.runtime_dir import MAX_SOCKET_PATH, private_dir, runtime_folder

__all__ = ["MAX_SOCKET_PATH", "DaemonPool", "connect_or_start", "private_dir", "runtime_dir", "socket_path"]

CONNECT_PATIENCE_S = 10.0  # a new daemon is listening within this (it starts no engine before the first request)
DEFAULT_IDLE_S = 600.0
POOLS_PER_KIND = 4  # commands evaluating at the same time each get a pool; beyond this they wait for one
MAX_CONNECTIONS = 64  # commands connected at once; more wait for one to finish


def runtime_dir() -> Path:
    return Path(runtime_folder())


def socket_path() -> Path:
    package = Path(__file__).resolve().parents[1]
    parts = [sys.executable, str(package)]
    for path in sorted(package.glob("expr/*.py")):
        parts.append(f"{path.name}:{path.stat().st_mtime_ns}")
    digest = hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]
    return runtime_dir() / f"expr-{digest}.sock"


class DaemonPool:
    """The client side: `WorkerPool.request` answered by the daemon, which it starts when none is listening.
    Where no daemon can run (no private folder for its socket), this process keeps its own workers."""

    def __init__(self, kind: str, memory_mb: int):
        self.kind = kind
        self.memory_mb = memory_mb
        self._connection: socket.socket | None = None
        self._local: WorkerPool | None = None
        self._lock = threading.Lock()

    def request(self, payload: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        if self._local is None:
            try:
                return self._ask_daemon(payload, timeout_s)
            except Unavailable:
                self._local = WorkerPool(self.kind, self.memory_mb)
        return self._local.request(payload, timeout_s)

    def _ask_daemon(self, payload: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        envelope = {"kind": self.kind, "memory_mb": self.memory_mb, "timeout_s": timeout_s, "request": payload}
        with self._lock:
            try:
                answer = self._exchange(envelope, timeout_s)
            except (OSError, EOFError, ValueError):
                # a daemon that went away since our last request (killed, or replaced by a newer build); the
                # expression is pure, so asking a fresh daemon again is safe
                try:
                    answer = self._exchange(envelope, timeout_s)
                except (OSError, EOFError, ValueError):
                    raise WorkerDied("the expression service stopped answering", timed_out=False) from None
        if "died" in answer:
            died = answer["died"]
            raise WorkerDied("the expression worker died", timed_out=bool(died.get("timed_out")),
                             returncode=died.get("returncode"))
        response: dict[str, Any] = answer["response"]
        return response

    def _exchange(self, envelope: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        connection = self._connect()
        try:
            _write_message(connection.fileno(), envelope)
            # the daemon kills a worker at its deadline (after the worker's start-up); this bound only guards
            # against a daemon that hangs
            return _read_message(connection.fileno(), time.monotonic() + STARTUP_TIMEOUT_S + timeout_s + 5)
        except TimeoutError:
            self.close()
            raise WorkerDied("the expression service stopped answering", timed_out=False) from None
        except (OSError, EOFError, ValueError):
            self.close()
            raise

    def _connect(self) -> socket.socket:
        if self._connection is None:
            self._connection = connect_or_start()
        return self._connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        if self._local is not None:
            self._local.close()


class Unavailable(Exception):
    """No daemon can be reached or started here (no private folder, no Unix sockets)."""


def connect_or_start() -> socket.socket:
    path = socket_path()
    if not private_dir(path.parent):
        raise Unavailable(f"{path.parent} is not a private folder")
    connection = _connect(path)
    if connection is not None:
        return connection
    _start_daemon(path)
    give_up = time.monotonic() + CONNECT_PATIENCE_S
    while time.monotonic() < give_up:
        connection = _connect(path)
        if connection is not None:
            return connection
        time.sleep(0.005)
    raise Unavailable(f"the expression service did not start listening on {path}")


def _connect(path: Path) -> socket.socket | None:
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.connect(str(path))
    except OSError:
        connection.close()
        return None
    return connection


def _start_daemon(path: Path) -> None:
    import subprocess

    subprocess.Popen(
        [*isolated_main("jctl.expr.daemon"), str(path), os.environ.get("JCTL_EXPR_DAEMON_IDLE_S", str(DEFAULT_IDLE_S))],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=str(path.parent),
        env={}, start_new_session=True, close_fds=True,
    )


# ---- the daemon process -------------------------------------------------------------------------------------


class _Pools:
    """Worker pools lent out one request at a time, so commands evaluating at once do not queue behind each other."""

    def __init__(self) -> None:
        self._idle: dict[tuple[str, int], list[WorkerPool]] = {}
        self._lent: dict[tuple[str, int], int] = {}
        self._ready = threading.Condition()

    def borrow(self, kind: str, memory_mb: int) -> WorkerPool:
        key = (kind, memory_mb)
        with self._ready:
            while not self._idle.get(key) and self._lent.get(key, 0) >= POOLS_PER_KIND:
                self._ready.wait()
            self._lent[key] = self._lent.get(key, 0) + 1
            idle = self._idle.setdefault(key, [])
            return idle.pop() if idle else WorkerPool(kind, memory_mb)

    def give_back(self, pool: WorkerPool) -> None:
        with self._ready:
            key = (pool.kind, pool.memory_mb)
            self._lent[key] -= 1
            self._idle.setdefault(key, []).append(pool)
            self._ready.notify()

    def close(self) -> None:
        with self._ready:
            for pools in self._idle.values():
                for pool in pools:
                    pool.close()


def _answer(pools: _Pools, envelope: dict[str, Any]) -> dict[str, Any]:
    kind, memory_mb = str(envelope["kind"]), int(envelope["memory_mb"])
    pool = pools.borrow(kind, memory_mb)
    try:
        return {"response": pool.request(envelope["request"], float(envelope["timeout_s"]))}
    except WorkerDied as died:
        return {"died": {"timed_out": died.timed_out, "returncode": died.returncode}}
    finally:
        pools.give_back(pool)


def serve(path: Path, idle_s: float) -> None:
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(str(path))
    except OSError:  # a stale socket file: take its place only if nobody answers there
        if _connect(path) is not None:
            return
        path.unlink(missing_ok=True)
        listener.bind(str(path))
    listener.listen(64)
    listener.settimeout(1.0)
    remove_orphaned_tmpdirs()  # workers of killed daemons and commands: this daemon owns the workers from now on
    service = _Service()
    # Threads that never end: a worker is killed when the thread that started it exits (PR_SET_PDEATHSIG follows
    # the thread, not the process), so connections are served by a fixed set of long-lived threads.
    from concurrent.futures import ThreadPoolExecutor

    threads = ThreadPoolExecutor(max_workers=MAX_CONNECTIONS, thread_name_prefix="jctl-expr")
    try:
        while not service.idle_for(idle_s):
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            connection.settimeout(None)
            service.accepted()
            threads.submit(service.converse, connection)
    finally:
        path.unlink(missing_ok=True)
        listener.close()
        service.pools.close()
        os._exit(0)  # connections still open (a command in the middle of its work) need no goodbye


class _Service:
    """Answers each connected command's requests in turn, and knows when nobody has asked for a while."""

    def __init__(self) -> None:
        self.pools = _Pools()
        self._lock = threading.Lock()
        self._connections = 0
        self._last_seen = time.monotonic()

    def idle_for(self, seconds: float) -> bool:
        with self._lock:
            return self._connections == 0 and time.monotonic() - self._last_seen >= seconds

    def accepted(self) -> None:
        self._count(+1)

    def converse(self, connection: socket.socket) -> None:
        try:
            with connection:
                while True:
                    try:
                        envelope = _read_message(connection.fileno(), None)
                        _write_message(connection.fileno(), _answer(self.pools, envelope))
                    except (OSError, EOFError, ValueError, KeyError, TypeError):
                        return  # the command finished or went away (Ctrl-C, SIGKILL): nothing is owed to it
        finally:
            self._count(-1)

    def _count(self, change: int) -> None:
        with self._lock:
            self._connections += change
            self._last_seen = time.monotonic()


def main(argv: list[str]) -> None:
    serve(Path(argv[0]), float(argv[1]))
