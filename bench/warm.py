"""Benchmarks' side of jctl's warm services: a runtime folder of the bench's own (so its command server and
expression daemon are the ones it started, and leave with it), and a server warmed by one untimed command, as a
user's second command finds it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

IN_PROCESS = {"JCTL_DAEMON": "0"}


@contextmanager
def private_runtime(env: dict[str, str]) -> Iterator[dict[str, str]]:
    """`env` with a runtime folder of its own; the services started in it are stopped at the end."""
    with tempfile.TemporaryDirectory(prefix="jctl-bench-") as folder:
        try:
            yield {**env, "XDG_RUNTIME_DIR": folder}
        finally:
            for pid in _processes_naming(folder):
                os.kill(pid, signal.SIGKILL)


def warm_server(command: list[str], env: dict[str, str], patience_s: float = 60.0) -> None:
    """Run `command` once (untimed), then wait until a command server listens in env's runtime folder."""
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=False)
    folder = Path(env["XDG_RUNTIME_DIR"]) / "jctl"
    deadline = time.monotonic() + patience_s
    while time.monotonic() < deadline:
        if any(_listening(path) for path in folder.glob("cmd-*.sock")):
            return
        time.sleep(0.05)
    raise SystemExit(f"no command server started in {folder}")


def _listening(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(str(path))
        except OSError:
            return False
    return True


def _processes_naming(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and text in (entry / "cmdline").read_bytes().decode(errors="replace"):
                found.append(int(entry.name))
        except OSError:
            continue
    return [pid for pid in found if pid != os.getpid()]
