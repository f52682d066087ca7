"""The warm command server: a process that has imported everything the hot commands need and forks a child per
command, which becomes that command (its stdin/stdout/stderr, folder, environment, argv) and runs the same `main`.

One thread, no store, socket or worker open when it forks: a child starts from a clean copy. The server reaps its
children and tells each client its child's wait status. It leaves after `JCTL_DAEMON_IDLE_S` without commands, and
serves only the build it was started for (the socket name is the key of jctl.cli.warm_client).
"""

from __future__ import annotations

import atexit
import errno
import fcntl
import gc
import importlib.machinery
import io
import marshal
import os
import select
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jctl.cli.warm_client import CWD_ENTRY, build_key

MAX_REQUEST = 4 * 1024 * 1024  # argv and environment of one command
EXIT_GAVE_UP = 3  # a child whose client stopped waiting before it began: it ran nothing
STOPPING = {signal.SIGINT, signal.SIGTERM}  # the server leaves cleanly on either; a client forwards both
REQUEST_PATIENCE_S = 2.0  # a client sends its request at once; one that does not is dropped
IMPORT_SUFFIXES = tuple(importlib.machinery.all_suffixes())  # what a module file's name may end with
PRELOADED = (  # what the hot commands and validate import, a spec's first lint included, and the full Typer app
    "jctl.cli.app", "jctl.cli.commands", "jctl.cli.drive", "jctl.cli.views", "jctl.cli.output", "jctl.lint",
    "jctl.lint_cache", "jctl.secrets", "jctl.limits", "jctl.expr.worker", "jctl.expr.pools", "jctl.expr.daemon",
    "jctl.expr.bindings", "jctl.expr.dw_dialect", "jctl.expr.dw_guard", "jctl.expr.memo", "jctl.expr.jsonata",
    "jctl.expr.jq",
    "jctl.expr.jolt", "jctl.expr.dataweave", "jctl.cli.validate_run", "jctl.render", "yaml", "jsonschema",
    "jsonschema_rs", "jsonata", "jq", "isodate", "tomllib", "sqlite3", "sqlite_utils", "rich.console", "rich.table",
    "rich.text", "rich.progress", "rich._emoji_codes", "typer._click.decorators", "importlib.metadata",
    "email.message",
)
PRELOADED_PACKAGES = ("jctl.checks", "jctl.engine", "jctl.spec", "jctl.store", "jctl.tasks")  # every module
# caches each process fills once from the jctl files alone (which the server's key covers): filled before forking
WARMED = ("jctl.lint_cache:_linter_fingerprint", "jctl.checks.dsl_schema:schema_validator",
          "jctl.checks.placement:state_types", "jctl.checks.placement:_state_validator")


@dataclass
class Request:
    """One command as its client sent it, with the client's stdin, stdout and stderr."""

    argv: list[str]
    cwd: str
    env: dict[str, str]
    path: list[str]
    main_package: str | None
    stdio: list[tuple[str, str, bool, bool] | None]
    fds: list[int]
    connection: socket.socket


def main(argv: list[str]) -> None:
    """`warm_server SOCKET IDLE_S FIRST_PATH_ENTRY`: the server's whole life, and in each forked child its command."""
    path, idle_s, first_entry = Path(argv[0]), float(argv[1]), argv[2]
    os.chdir(path.parent)
    sys.path[0] = os.getcwd() if first_entry == CWD_ENTRY else first_entry
    lock = _lock(path)
    if lock is None or f"cmd-{build_key()}.sock" != path.name:
        return  # another server has this socket, or this process is not the build the client is
    _preload()
    if threading.active_count() != 1:
        return  # an import started a thread: forking now could copy a held lock
    gc.collect()
    gc.freeze()  # what was loaded stays out of the children's collections: fewer pages copied, shorter pauses
    server = _Server(path, lock, idle_s)
    request = server.serve()
    if request is not None:
        _become(request)
        _run_command(request.connection)


def _run_command(connection: socket.socket) -> None:
    """Run the command as `python -m jctl` would, then leave without tearing down the server's whole heap (Python's
    finalization of every module the server loaded would cost more than most commands)."""
    from jctl.cli.app import run_here

    code = 0
    try:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOPPING)  # a Ctrl-C forwarded since the fork lands here
        run_here()
    except SystemExit as leaving:
        code = _exit_code(leaving.code)
    except KeyboardInterrupt:
        code = 130  # as guarded_main answers it
    except BaseException:  # what the interpreter prints for an uncaught exception (guarded_main lets few through)
        sys.excepthook(*sys.exc_info())
        code = 1
    shutdown = getattr(threading, "_shutdown", None)
    if shutdown is not None:
        shutdown()  # threads the command started and did not mark daemon, as at interpreter exit
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            code = 120  # the interpreter's status when it cannot flush its standard streams
    _send(connection, b"C%d\n" % code)  # for the client, should the server be gone before it reaps this process
    os._exit(code)


def _exit_code(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    sys.stderr.write(f"{code}\n")
    return 1


def _lock(path: Path) -> int | None:
    fd = os.open(path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def _preload() -> None:
    import importlib
    import pkgutil

    names = list(PRELOADED)
    for package in PRELOADED_PACKAGES:
        folder = importlib.import_module(package).__path__
        names += [f"{package}.{module.name}" for module in pkgutil.iter_modules(folder)]
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError:
            continue  # an optional module missing: the command imports it (or reports it) itself
    for warmed in WARMED:
        module, _, function = warmed.partition(":")
        try:
            getattr(importlib.import_module(module), function)()
        except Exception:  # noqa: BLE001 - a cache left cold is filled by the command that needs it
            continue


class _Server:
    def __init__(self, path: Path, lock: int, idle_s: float):
        self.path = path
        self.lock = lock
        self.idle_s = idle_s
        self.children: dict[int, socket.socket] = {}
        self.wake_read, self.wake_write = socket.socketpair()
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)

    def serve(self) -> Request | None:
        """Answer commands until idle; in a forked child, return its request instead."""
        for end in (self.wake_read, self.wake_write):
            end.setblocking(False)
        signal.set_wakeup_fd(self.wake_write.fileno())
        signal.signal(signal.SIGCHLD, lambda _signum, _frame: None)
        for signum in STOPPING:
            signal.signal(signum, lambda _signum, _frame: sys.exit(0))
        self.path.unlink(missing_ok=True)  # a stale socket: the lock says no server owns it
        self.listener.bind(str(self.path))
        self.listener.listen(64)
        last_seen = time.monotonic()
        try:
            while self.children or time.monotonic() - last_seen < self.idle_s:
                ready, _, _ = select.select([self.listener, self.wake_read], [], [], 1.0)
                if self.wake_read in ready:
                    self._drain_wakeups()
                self._reap()
                if not ready and f"cmd-{build_key()}.sock" != self.path.name:
                    last_seen = -self.idle_s  # the jctl files changed: finish the running commands, then leave
                if self.listener in ready:
                    last_seen = time.monotonic()
                    request = self._accept()
                    if request is not None and self._fork(request):
                        return request
        except SystemExit:
            pass
        self._leave()
        return None

    def _drain_wakeups(self) -> None:
        try:
            while self.wake_read.recv(512):
                pass
        except OSError:
            pass

    def _accept(self) -> Request | None:
        try:
            connection, _ = self.listener.accept()
        except OSError:
            return None
        connection.settimeout(REQUEST_PATIENCE_S)
        try:
            request = _read_request(connection)
        except (OSError, EOFError, ValueError, KeyError, TypeError):
            connection.close()
            return None
        if _shadows_preloaded(request):
            _close_fds(request.fds)
            _send(connection, b"R\n")
            connection.close()
            return None
        return request

    def _fork(self, request: Request) -> bool:
        """Fork the command's process; True in that child (with Ctrl-C and SIGTERM held until it runs the command:
        until then it still has the server's handlers)."""
        signal.pthread_sigmask(signal.SIG_BLOCK, STOPPING)
        pid = os.fork()
        if pid == 0:
            self._forget_in_child(request.connection)
            return True
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOPPING)
        _close_fds(request.fds)
        self.children[pid] = request.connection
        _send(request.connection, b"P%d\n" % pid)
        return False

    def _forget_in_child(self, keep: socket.socket) -> None:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for connection in self.children.values():
            connection.close()
        for end in (self.listener, self.wake_read, self.wake_write):
            end.close()
        os.close(self.lock)
        keep.settimeout(None)

    def _reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            connection = self.children.pop(pid, None)
            if connection is not None:
                _send(connection, b"X%d\n" % status)
                connection.close()

    def _leave(self) -> None:
        self.path.unlink(missing_ok=True)
        self.listener.close()
        os.close(self.lock)  # after the unlink: a new server must not bind before this one's socket is gone


def _read_request(connection: socket.socket) -> Request:
    data, fds, _flags, _address = socket.recv_fds(connection, 65536, 3)
    if len(fds) != 3 or len(data) < 4:
        _close_fds(fds)
        raise ValueError("a request carries its length and three descriptors")
    size = int.from_bytes(data[:4], "big")
    if size > MAX_REQUEST:
        _close_fds(fds)
        raise ValueError("request too large")
    body = data[4:]
    while len(body) < size:
        chunk = connection.recv(size - len(body))
        if not chunk:
            _close_fds(fds)
            raise EOFError
        body += chunk
    fields: dict[str, Any] = marshal.loads(body)
    return Request(list(fields["argv"]), str(fields["cwd"]), dict(fields["env"]), list(fields["path"]),
                   fields["main_package"], list(fields["stdio"]), fds, connection)


def _shadows_preloaded(request: Request) -> bool:
    """With `python -m jctl` the client's folder comes first on its module path: a module there named like one the
    server has loaded would have been imported instead; such a command runs in its client."""
    if not request.path or request.path[0] != request.cwd:
        return False
    try:
        names = {_importable_as(entry) for entry in os.listdir(request.cwd)}
    except OSError:
        return False
    for name in names & {module.partition(".")[0] for module in sys.modules}:
        location = getattr(sys.modules.get(name), "__file__", None) or ""
        if not location.startswith(os.path.join(request.cwd, name)):
            return True
    return False


def _importable_as(entry: str) -> str:
    """The module name a folder entry could be imported as: a package folder keeps its name, a module file loses the
    suffix an import looks for (`typer.py`, `yaml.cpython-311-x86_64-linux-gnu.so`); any other file (`jctl.db`,
    `signal.json`) is imported as nothing."""
    for suffix in IMPORT_SUFFIXES:
        if entry.endswith(suffix):
            return entry[:-len(suffix)]
    return "" if "." in entry else entry


def _send(connection: socket.socket, message: bytes) -> None:
    try:
        connection.sendall(message)
    except OSError:
        pass  # the client went away; its command process has gone (or goes) with it


def _close_fds(fds: list[int]) -> None:
    for fd in fds:
        try:
            os.close(fd)
        except OSError as error:
            if error.errno != errno.EBADF:
                raise


def _become(request: Request) -> None:
    """Turn this forked child into the client's command: its descriptors, folder, environment, argv, streams."""
    try:
        go = request.connection.recv(1)
    except OSError:
        go = b""
    if go != b"G":
        os._exit(EXIT_GAVE_UP)  # the client gave up waiting and runs the command itself
    for target, fd in enumerate(request.fds):
        os.dup2(fd, target)
    _close_fds(request.fds)
    os.chdir(request.cwd)
    os.environ.clear()
    os.environ.update(request.env)
    sys.argv[:] = request.argv
    sys.path[:] = request.path
    main_module = sys.modules["__main__"]
    main_module.__package__ = request.main_package  # click names the program from it (`python -m jctl`)
    for fd, name in enumerate(("stdin", "stdout", "stderr")):
        stream = _stream(fd, request.stdio[fd])
        setattr(sys, name, stream)
        setattr(sys, f"__{name}__", stream)  # what shutil.get_terminal_size and rich look at
    _die_with_client(request.connection)


def _stream(fd: int, form: tuple[str, str, bool, bool] | None) -> Any:
    """The text stream Python would have made for `fd` (as in the client: same encoding, errors and buffering)."""
    mode = "rb" if fd == 0 else "wb"
    if form is None:
        return None
    encoding, errors, line_buffering, write_through = form
    binary = io.open(fd, mode, buffering=0 if write_through and fd else -1, closefd=False)
    text = io.TextIOWrapper(binary, encoding, errors, "\n", line_buffering, write_through)
    setattr(text, "mode", mode[0])  # noqa: B010  (typeshed has it read-only; io.open sets it too)
    return text


def _die_with_client(connection: socket.socket) -> None:
    """The client gone (even SIGKILLed) means this command is killed, as it would have been in that process."""

    def watch() -> None:
        try:
            connection.recv(1)
        except OSError:
            pass
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="jctl-client-watch", daemon=True).start()
