"""Resolving a path the way the kernel does, for paths resolved on every drive or start."""

from __future__ import annotations

import os
from pathlib import Path


def real_path(path: Path | str) -> str:
    """`os.path.realpath(path)`: on Linux the kernel's own resolution, read back from /proc/self/fd after opening the
    path with O_PATH (two system calls instead of realpath's lstat and Python loop per component); realpath itself
    elsewhere, and for a path that cannot be opened (missing, a symlink loop)."""
    flags = getattr(os, "O_PATH", 0)
    if not flags:
        return os.path.realpath(path)
    try:
        descriptor = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return os.path.realpath(path)
    try:
        return descriptor_path(descriptor) or os.path.realpath(path)
    finally:
        os.close(descriptor)


def descriptor_path(descriptor: int) -> str | None:
    """The absolute path the open file `descriptor` was reached by, symlinks resolved; None when the system does not
    say (no /proc) or the file is gone."""
    try:
        named = os.readlink(f"/proc/self/fd/{descriptor}")
    except OSError:
        return None
    return named if named.startswith("/") and not named.endswith(" (deleted)") else None
