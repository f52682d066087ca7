"""The client half of the warm command server (jctl.cli.warm_server): hand this command to a server that has already
imported everything, the way Spring, Nailgun and Android's zygote do, or say it cannot so the command runs here.

It runs before every hot command, so it imports only what connecting needs (`_socket`, not `socket`; no json,
hashlib, pathlib or typing). The server gets this process's stdin/stdout/stderr themselves (SCM_RIGHTS), its argv,
folder and environment, and answers with its command process's pid (that process starts when the client says go),
then with that process's wait status.
"""

from __future__ import annotations

import _socket
import marshal
import os
import sys
import zlib

import jctl
from jctl.runtime_dir import private_dir, runtime_folder

HOT_COMMANDS = frozenset({"run", "signal", "status", "list", "history", "cancel", "clock", "tick", "validate"})
DEFAULT_IDLE_S = 600.0
ANSWER_PATIENCE_S = 10.0  # a server forks and answers at once; a socket that stays silent is not one
# variables libraries the server has loaded read once, at import (typer.core, typer.rich_utils)
IMPORT_TIME_VARIABLES = ("TYPER_USE_RICH", "TERMINAL_WIDTH", "_TYPER_FORCE_DISABLE_TERMINAL", "GITHUB_ACTIONS",
                         "FORCE_COLOR", "PY_COLORS")
CWD_ENTRY = "<cwd>"  # `python -m jctl` puts the working folder first on sys.path: one server serves every folder


def delegate(argv: list[str]) -> int | None:
    """The exit code of `argv` run by the warm server, or None: run it in this process (a server is then started
    in the background for the next command when none is listening)."""
    if not _wanted(argv):
        return None
    try:
        path = socket_path()
    except OSError:  # the working folder is gone, or the package cannot be listed: the command says what is wrong
        return None
    if path is None:
        return None
    connection = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        connection.connect(path)
    except OSError:
        connection.close()
        _start_server(path)
        return None
    try:
        return _converse(connection, argv)
    except KeyboardInterrupt:
        return 130  # Ctrl-C before the command process was known: as the command itself answers it
    finally:
        connection.close()


def _wanted(argv: list[str]) -> bool:
    environ = os.environ
    if len(argv) < 2 or argv[1] not in HOT_COMMANDS or environ.get("JCTL_DAEMON", "1") == "0":
        return False
    if not hasattr(os, "posix_spawn") or not hasattr(_socket, "AF_UNIX"):
        return False  # no Unix sockets to pass descriptors over (Windows)
    if "_JCTL_COMPLETE" in environ or environ.get("PYTHONPROFILEIMPORTTIME"):
        return False  # completion, and a process that profiles its own imports, stay here
    # interpreter options on the command line (-I, -X, -O, ...) are not reproduced by a server: run here
    launch = sys.orig_argv
    return len(launch) > 1 and (launch[1] == "-m" or not launch[1].startswith("-"))


def build_key() -> str:
    """What the server must share with this process: interpreter, flags, module path, the variables read at start-up
    or import (PYTHON*, IMPORT_TIME_VARIABLES) and the jctl files' times — a changed checkout or another worktree
    never gets an old server."""
    search_path = list(sys.path)
    if search_path and search_path[0] == os.getcwd():
        search_path[0] = CWD_ENTRY
    parts = [sys.executable, sys.version, repr(sys.flags), *search_path, "\0"]
    parts += sorted(f"{name}={value}" for name, value in os.environ.items()
                    if name.startswith("PYTHON") or name in IMPORT_TIME_VARIABLES)
    parts += _file_times(os.path.dirname(jctl.__file__))
    text = "\n".join(parts).encode("utf-8", "surrogateescape")
    return f"{zlib.crc32(text):08x}{zlib.adler32(text):08x}"


def _file_times(folder: str) -> list[str]:
    times = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                if entry.name != "__pycache__":
                    times += _file_times(entry.path)
            else:
                times.append(f"{entry.path}:{entry.stat().st_mtime_ns}")
    return sorted(times)


def socket_path() -> str | None:
    folder = runtime_folder()
    if not private_dir(folder):
        return None
    return os.path.join(folder, f"cmd-{build_key()}.sock")


def _converse(connection: _socket.socket, argv: list[str]) -> int | None:
    main_module = sys.modules.get("__main__")
    fds = b"".join(fd.to_bytes(4, sys.byteorder, signed=True) for fd in (0, 1, 2))
    try:
        request = marshal.dumps({"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ), "path": sys.path,
                                 "main_package": getattr(main_module, "__package__", None),
                                 "stdio": [_stream_form(stream) for stream in (sys.stdin, sys.stdout, sys.stderr)]})
        connection.settimeout(ANSWER_PATIENCE_S)
        connection.sendmsg([len(request).to_bytes(4, "big"), request],
                           [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, fds)])
        answer = _read_line(connection)
        if not answer.startswith(b"P"):
            return None  # refused (this folder shadows a module the server has loaded): run here
        pid = int(answer[1:])
        connection.sendall(b"G")  # the command process starts only now: a client that gave up never runs it twice
        connection.settimeout(None)
    except (OSError, EOFError, ValueError):
        return None  # our stdio cannot be passed (a closed descriptor), or no jctl server answers: run here
    return _wait_for(connection, pid)


def _stream_form(stream: object) -> tuple[str, str, bool, bool] | None:
    encoding, errors = getattr(stream, "encoding", None), getattr(stream, "errors", None)
    if not isinstance(encoding, str) or not isinstance(errors, str):
        return None
    line_buffering, write_through = getattr(stream, "line_buffering", False), getattr(stream, "write_through", False)
    return encoding, errors, bool(line_buffering), bool(write_through)


def _read_line(connection: _socket.socket) -> bytes:
    """One line from the server; it sends each only after the client has read the one before (P), or sends the
    last two together (C, X): a byte at a time then, as `recv` may return both at once."""
    data = b""
    while not data.endswith(b"\n"):
        chunk = connection.recv(1)
        if not chunk:
            raise EOFError
        data += chunk
    return data[:-1]


def _wait_for(connection: _socket.socket, pid: int) -> int:
    """The command process's exit code; Ctrl-C and SIGTERM reach it, and a command killed by a signal makes this
    process die of that signal too, as the command would have here."""
    import _signal  # type: ignore[import-not-found]  # `signal` itself costs a millisecond of enum building

    def forward(signum: int, _frame: object) -> None:
        try:
            os.kill(pid, signum)
        except OSError:
            pass

    for signum in (_signal.SIGINT, _signal.SIGTERM):
        _signal.signal(signum, forward)
    code = None
    try:
        line = _read_line(connection)
        if line.startswith(b"C"):  # the command's own exit code; the server's wait status follows
            code = int(line[1:])
            line = _read_line(connection)
        status = int(line[1:])
    except (OSError, EOFError, ValueError):
        if code is not None:
            return code  # the server went away (killed) after its command finished
        sys.stderr.write("jctl: internal error: the command server stopped before the command finished\n")
        return 3
    if os.WIFSIGNALED(status):
        signum = os.WTERMSIG(status)
        _signal.signal(signum, _signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        return 128 + signum
    return os.waitstatus_to_exitcode(status)


def _start_server(path: str) -> None:
    """Start a server for the next command, detached (its own session, no terminal) and without waiting for it;
    two commands starting one at once are fine: the second server finds the first one's lock and leaves."""
    idle = os.environ.get("JCTL_DAEMON_IDLE_S", str(DEFAULT_IDLE_S))
    first = sys.path[0] if sys.path else ""
    # jctl is found the way this process found it; the server then moves to its own folder and checks the key
    script = "import sys; sys.path[0] = sys.argv[1]; from jctl.cli.warm_server import main; main(sys.argv[2:])"
    try:
        entry = CWD_ENTRY if first == os.getcwd() else first
        os.posix_spawn(sys.executable, [sys.executable, "-c", script, first, path, idle, entry],
                       dict(os.environ), setsid=True,
                       file_actions=[(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDWR, 0),
                                     (os.POSIX_SPAWN_DUP2, 0, 1), (os.POSIX_SPAWN_DUP2, 0, 2)])
    except (OSError, NotImplementedError):  # no setsid for spawned processes here: no server, as before
        pass
