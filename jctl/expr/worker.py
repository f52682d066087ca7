"""Isolated evaluation: long-lived worker processes that run expression engines (jctl.expr.worker_process), and
the pool that drives them (jctl.expr.pools keeps one per engine kind).

The parent talks length-prefixed JSON over pipes and enforces a wall-clock deadline by killing the worker (a native
call cannot be interrupted); a warm spare takes over so the next evaluation does not pay the start-up.
"""

from __future__ import annotations

import functools
import json
import os
import select
import struct
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import subprocess
    from concurrent.futures import ThreadPoolExecutor


_HEADER = struct.Struct(">I")
MAX_MESSAGE = 256 * 1024 * 1024
STARTUP_TIMEOUT_S = 60.0
KINDS = ("dataweave", "python")
TMP_PREFIX = "jctl-expr-"  # then the pid of the jctl process that owns the worker


def isolated_main(module: str) -> list[str]:
    """The command running `module`'s `main(argv)` in an isolated interpreter (-I: no environment variables, user
    site or script folder on the module path; -B: no bytecode written), with jctl's checkout on the module path."""
    root = str(Path(__file__).resolve().parents[2])
    script = f"import sys; sys.path.insert(0, {root!r}); from {module} import main; main(sys.argv[1:])"
    return [sys.executable, "-I", "-B", "-c", script]


class WorkerDied(Exception):
    """The worker exited or was killed; `timed_out` tells whether we killed it for its deadline."""

    def __init__(self, message: str, timed_out: bool = False, returncode: int | None = None):
        super().__init__(message)
        self.timed_out = timed_out
        self.returncode = returncode


def _write_message(fd: int, payload: dict[str, Any]) -> None:
    data = _encode(payload).encode("utf-8")
    view = memoryview(_HEADER.pack(len(data)) + data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _encode(payload: dict[str, Any]) -> str:
    """The message text; a `document_json` (a document the caller has already encoded, for its memo key) is spliced
    in as the `document` it is, rather than encoded a second time or sent as a string to decode twice."""
    document = payload.get("document_json")
    if not isinstance(document, str):
        return json.dumps(payload, separators=(",", ":"))
    rest = json.dumps({name: value for name, value in payload.items() if name != "document_json"},
                      separators=(",", ":"))
    return f'{rest[:-1]}{"," if len(rest) > 2 else ""}"document":{document}}}'


def _read_exact(fd: int, size: int, deadline: float | None) -> bytes:
    chunks: list[bytes] = []
    remaining = size
    while remaining:
        if deadline is not None:
            wait = deadline - time.monotonic()
            if wait <= 0 or not select.select([fd], [], [], wait)[0]:
                raise TimeoutError
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _read_message(fd: int, deadline: float | None) -> dict[str, Any]:
    (size,) = _HEADER.unpack(_read_exact(fd, _HEADER.size, deadline))
    if size > MAX_MESSAGE:
        raise EOFError
    message = json.loads(_read_exact(fd, size, deadline))
    if not isinstance(message, dict):
        raise ValueError("a worker message is a JSON object")
    return message


class _Worker:
    """One worker process; starts warming up as soon as it is created."""

    def __init__(self, kind: str, memory_mb: int):
        import subprocess  # a command asking the warm daemon never starts a worker: these are a worker owner's
        import tempfile

        self.tmpdir = tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{os.getpid()}-")
        self.process = _start_process(
            [*isolated_main("jctl.expr.worker_process"), kind, str(memory_mb), self.tmpdir],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env={}, cwd=self.tmpdir, close_fds=True,
        )
        self.ready = False

    def call(self, request: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        out_fd = self.process.stdout.fileno()
        try:
            if not self.ready:
                hello = _read_message(out_fd, time.monotonic() + STARTUP_TIMEOUT_S)
                if not hello.get("ready"):
                    raise EOFError
                self.ready = True
            deadline = time.monotonic() + timeout_s
            _write_message(self.process.stdin.fileno(), request)
            return _read_message(out_fd, deadline)
        except TimeoutError:
            self.kill()
            raise WorkerDied("deadline exceeded", timed_out=True) from None
        except (EOFError, OSError, ValueError):
            returncode = self.kill()
            raise WorkerDied("the expression worker exited", returncode=returncode) from None

    def kill(self) -> int | None:
        import shutil
        import subprocess

        if self.process.poll() is None:
            self.process.kill()
        try:
            returncode = self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            returncode = None
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass
        shutil.rmtree(self.tmpdir, ignore_errors=True)
        return returncode


def _start_process(*args: Any, **kwargs: Any) -> subprocess.Popen[Any]:
    """Popen from a thread that lives as long as this process. A worker's parent-death signal (PR_SET_PDEATHSIG)
    follows the thread that started it, not the process: a worker started from a short-lived thread (a server's
    request handler, a Temporal activity, a daemon's connection) would be killed when that thread ends."""
    import subprocess

    if threading.current_thread() is threading.main_thread():
        return subprocess.Popen(*args, **kwargs)
    return _spawner().submit(subprocess.Popen, *args, **kwargs).result()


@functools.lru_cache(maxsize=1)
def _spawner() -> ThreadPoolExecutor:
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="jctl-worker-spawner")


class WorkerPool:
    """An active worker plus a warm spare for one engine kind and memory cap; calls are serialised."""

    def __init__(self, kind: str, memory_mb: int, keep_spare: bool = True):
        self.kind = kind
        self.memory_mb = memory_mb
        self.keep_spare = keep_spare
        self._active: _Worker | None = None
        self._spare: _Worker | None = None
        self._lock = threading.Lock()
        self.respawns = 0

    def request(self, payload: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        with self._lock:
            worker = self._take_worker()
            try:
                response = worker.call(payload, timeout_s)
            except WorkerDied:
                self._active = None
                self.respawns += 1
                raise
            if response.get("restart"):
                worker.kill()
                self._active = None
                self.respawns += 1
            return response

    def _take_worker(self) -> _Worker:
        if self._active is None:
            self._active, self._spare = (self._spare or _Worker(self.kind, self.memory_mb)), None
        if self.keep_spare and self._spare is None:
            self._spare = _Worker(self.kind, self.memory_mb)
        return self._active

    def close(self) -> None:
        with self._lock:
            for worker in (self._active, self._spare):
                if worker is not None:
                    worker.kill()
            self._active = self._spare = None


def remove_orphaned_tmpdirs(root: Path | None = None) -> list[Path]:
    """Worker folders whose jctl process is gone (it was killed before its atexit ran): removed."""
    import tempfile

    from jctl.processes import process_alive  # here: this file also runs as the isolated worker, without jctl

    removed = []
    for folder in Path(root or tempfile.gettempdir()).glob(f"{TMP_PREFIX}*"):
        owner = folder.name[len(TMP_PREFIX):].split("-", 1)[0]
        if owner.isdigit() and not process_alive(int(owner)):
            import shutil  # rarely needed: shutil imports the compression modules

            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed
