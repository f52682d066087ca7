"""The private per-user folder the warm services (expression daemon, command server) keep their sockets in.
Strings, not pathlib, on purpose: every command's client asks it before anything else."""

from __future__ import annotations

import os
import stat

MAX_SOCKET_PATH = 100  # bytes; the kernel's limit for a Unix socket path is 107
_LONGEST_NAME = len("/jctl/expr-0123456789abcdef.sock")


def runtime_folder() -> str:
    base = os.environ.get("XDG_RUNTIME_DIR")
    if base and len(os.fsencode(base)) + _LONGEST_NAME <= MAX_SOCKET_PATH:
        return os.path.join(base, "jctl")
    return f"/tmp/jctl-{os.getuid()}"  # no runtime folder, or one too deep for a socket path


def private_dir(directory: str | os.PathLike[str]) -> bool:
    """Create `directory` for this user alone, or check that it is exactly that (owner, no group/other access)."""
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        info = os.lstat(directory)
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & 0o077
