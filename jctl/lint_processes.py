"""Spreading a long lint run over forked processes: past a measured break-even each core takes a contiguous share
of the OpenAPI and Arazzo files (neighbours share their linked files) and sends its diagnostics back through a pipe.

Journeys always stay in the calling process: their expression checks drive engine worker processes and threads
that a fork must not share. Only Linux forks here, and only a process that runs no other thread; anywhere else,
or with `JCTL_PROCESSES=1`, the run stays in one process. A share whose process fails is linted again by the
caller, so a failure surfaces there exactly as it would have without processes.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

from jctl.diagnostics import Diagnostic

MAX_PROCESSES = 8
# A second process costs ~15-20 ms of CPU (the fork, its pipe, copy-on-write faults: bench/validate_processes.py and
# the CPU column of bench/peers.py); a share pays only well above that. 64 KB of specs is about twelve corpus Arazzo
# files with their OpenAPI and journey siblings, ~60 ms of work: a run of a handful of files stays in one process.
MIN_SHARE_BYTES = 64_000
FORKED_KINDS = ("openapi", "arazzo")

LintOne = Callable[[Path], list[Diagnostic]]


class Share(NamedTuple):
    """A forked process linting `files`; its diagnostics arrive on `reader`."""

    pid: int
    reader: int
    files: tuple[Path, ...]


def usable_processes() -> int:
    """How many processes a run may use: the cores this process may run on, or JCTL_PROCESSES when set; one where
    forking is unsafe (not Linux, or another thread runs: a progress bar, an expression engine's spawner)."""
    import threading

    if not sys.platform.startswith("linux") or threading.active_count() > 1:
        return 1
    configured = os.environ.get("JCTL_PROCESSES", "")
    if configured.isdigit() and int(configured) > 0:
        return min(int(configured), MAX_PROCESSES)
    return min(len(os.sched_getaffinity(0)), MAX_PROCESSES)


def plan_shares(files: Sequence[Path], kinds: Sequence[str | None], sizes: Sequence[int], processes: int
                ) -> list[list[Path]]:
    """The files each forked process takes: contiguous runs of OpenAPI/Arazzo files of about equal bytes from the
    end, the caller keeping the journeys and the start. Shares below the break-even are not worth a process."""
    total = sum(sizes)
    movable = [(path, size) for path, kind, size in zip(files, kinds, sizes) if kind in FORKED_KINDS]
    if processes < 2 or not movable:
        return []
    target = max(total // processes, MIN_SHARE_BYTES)
    shares: list[list[Path]] = []
    current: list[Path] = []
    current_bytes = 0
    for path, size in reversed(movable):  # from the end: the caller lints the journeys and the start meanwhile
        current.append(path)
        current_bytes += size
        if current_bytes >= target:
            shares.append(current[::-1])
            current, current_bytes = [], 0
            if len(shares) == processes - 1:
                break
    return shares[::-1]


def start_share(files: list[Path], lint_one: LintOne) -> Share | None:
    """Fork a process that lints `files`; None when it cannot be started (the caller lints them)."""
    import pickle

    try:
        reader, writer = os.pipe()
        pid = os.fork()
    except OSError:
        return None
    if pid == 0:  # the child: lint, send, and leave without running the parent's exit handlers
        code = 1
        try:
            os.close(reader)
            found = [lint_one(path) for path in files]
            with os.fdopen(writer, "wb") as out:
                out.write(pickle.dumps(found, protocol=pickle.HIGHEST_PROTOCOL))
            code = 0
        finally:
            os._exit(code)
    os.close(writer)
    return Share(pid, reader, tuple(files))


def collect_share(share: Share) -> list[list[Diagnostic]] | None:
    """The diagnostics of each file of `share`, in order; None when its process failed."""
    import pickle

    with os.fdopen(share.reader, "rb") as incoming:
        payload = incoming.read()
    _, status = os.waitpid(share.pid, 0)
    if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
        return None
    found: list[list[Diagnostic]] = pickle.loads(payload)
    return found if len(found) == len(share.files) else None


def abandon_share(share: Share) -> None:
    """Stop a share's process the caller no longer waits for (an error or Ctrl-C in the caller)."""
    import signal

    try:
        os.kill(share.pid, signal.SIGKILL)
        os.waitpid(share.pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass
    try:
        os.close(share.reader)
    except OSError:
        pass
