"""The pools this process evaluates with, one per engine kind and memory cap: its own worker processes, or the
shared warm service of `jctl.expr.daemon` when the command line asks for it. Closed at exit."""

from __future__ import annotations

import atexit
import os
import threading
from typing import TYPE_CHECKING

from jctl.expr.worker import WorkerPool, remove_orphaned_tmpdirs

if TYPE_CHECKING:
    from jctl.expr.daemon import DaemonPool

_POOLS: dict[tuple[str, int], WorkerPool | DaemonPool] = {}
_POOLS_LOCK = threading.Lock()


def pool(kind: str, memory_mb: int) -> WorkerPool | DaemonPool:
    """The pool this process evaluates with: its own workers, or with JCTL_EXPR_DAEMON=1 (what the command line
    sets) the shared warm service of `jctl.expr.daemon`."""
    with _POOLS_LOCK:
        key = (kind, memory_mb)
        if key not in _POOLS:
            if os.environ.get("JCTL_EXPR_DAEMON") == "1":
                from jctl.expr.daemon import DaemonPool

                _POOLS[key] = DaemonPool(kind, memory_mb)  # the daemon keeps the workers, and sweeps at its start
            else:
                if not _POOLS:
                    remove_orphaned_tmpdirs()
                _POOLS[key] = WorkerPool(kind, memory_mb)
        return _POOLS[key]


def shutdown() -> None:
    with _POOLS_LOCK:
        pools = list(_POOLS.values())
        _POOLS.clear()
    for each in pools:
        each.close()


atexit.register(shutdown)
