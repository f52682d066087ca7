"""The warm command server (jctl.cli.warm_server) answers a hot command exactly as the command run in its own
process does — output, exit code, stdin, folder, environment, terminal — and a client killed at any moment takes its
command with it. Every test runs real processes on a runtime folder of its own, so it knows which server it talks to."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import termios
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import CASES, REPO, run_jctl
from test_cli_lean import APPROVAL, CASES_AGREE, RUN_CASES, SIGNAL_CASES, fill, normalised

PATIENCE_S = 60.0  # a server imports everything first: generous for a loaded two-core machine
HERE = {"JCTL_DAEMON": "0"}


class Runtime:
    """A private runtime folder, the servers started in it, and the CLI run against it."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.env = {"XDG_RUNTIME_DIR": str(folder), "JCTL_DAEMON_IDLE_S": "60"}

    def jctl(self, *args: str, cwd: Path, served: bool = True, stdin: str | None = None,
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return run_jctl(*args, cwd=cwd, stdin=stdin, env={**self.env, **(env or {}), **({} if served else HERE)})

    def sockets(self) -> list[Path]:
        return sorted((self.folder / "jctl").glob("cmd-*.sock"))

    def started(self, cwd: Path, env: dict[str, str] | None = None) -> int:
        """Start a server (by running a command) and wait until it listens; its pid."""
        before = set(self.sockets())
        assert self.jctl("list", cwd=cwd, env=env).returncode == 0
        deadline = time.monotonic() + PATIENCE_S
        while time.monotonic() < deadline:
            for path in set(self.sockets()) - before:
                pid = server_pid(path)
                if pid is not None and listening(path):
                    return pid
            time.sleep(0.05)
        raise AssertionError(f"no server listened in {self.folder}")

    def stop_all(self) -> None:
        for path in self.sockets():
            pid = server_pid(path)
            if pid is not None:
                os.kill(pid, signal.SIGKILL)


def server_pid(path: Path) -> int | None:
    found = servers_of(path)
    return found[0] if found else None


def listening(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(str(path))
        except OSError:
            return False
    return True


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


def wait_until(condition: object, what: str) -> None:
    deadline = time.monotonic() + PATIENCE_S
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.02)
    raise AssertionError(f"waited in vain for {what}")


@contextmanager
def short_runtime() -> Iterator[Runtime]:
    """A runtime folder with a short path: under pytest's deep temporary folders (xdist adds a level) a socket path
    would pass the kernel's 107 bytes, and the client would rightly fall back to /tmp/jctl-<uid>."""
    folder = Path(tempfile.mkdtemp(prefix="jw-", dir="/tmp"))
    runtime = Runtime(folder)
    try:
        yield runtime
    finally:
        runtime.stop_all()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def runtime() -> Iterator[Runtime]:
    with short_runtime() as runtime:
        yield runtime


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Runtime, Path, str]]:
    """One server for the many argv forms, and a store with a paused instance."""
    store = tmp_path_factory.mktemp("warm")
    with short_runtime() as runtime:
        runtime.started(store)
        paused = runtime.jctl("run", str(APPROVAL), "-i", '{"orderId": "o-1"}', "-f", "json", "--db",
                              str(store / "jctl.db"), cwd=store)
        assert paused.returncode == 0, paused.stderr
        yield runtime, store, json.loads(paused.stdout)["journeyId"]


def answers(result: subprocess.CompletedProcess[str]) -> tuple[int, str, str]:
    return result.returncode, result.stdout, result.stderr


RULES = str(CASES / "rules")


@pytest.mark.parametrize("args", [*CASES_AGREE, ("cancel", "nope"), ("clock",), ("tick", "-f", "json"),
                                  ("status", "{id}", "--db", "relative.db"), ("validate", RULES),
                                  ("validate", "-f", "sarif", RULES), ("validate", "--list-rules"),
                                  ("validate", "--strict", "-f", "json", RULES)],
                         ids=lambda arg: " ".join(arg).replace(RULES, "rules"))
def test_served_reads_are_byte_identical(shared: tuple[Runtime, Path, str], args: tuple[str, ...]) -> None:
    runtime, store, instance_id = shared
    argv = [arg.format(id=instance_id, prefix=instance_id[:8]) for arg in args]
    env = {"JCTL_DB": str(store / "jctl.db")}
    served = runtime.jctl(*argv, cwd=store, env=env)
    assert answers(served) == answers(runtime.jctl(*argv, cwd=store, env=env, served=False))
    assert "Traceback" not in served.stderr


def each_side(tmp_path: Path, runtime: Runtime, argv: tuple[str, ...], stdin: str | None = None,
              env: dict[str, str] | None = None) -> list[subprocess.CompletedProcess[str]]:
    """`argv` served and run here, each on a fresh store in a folder of its own ({db})."""
    results = []
    for served in (True, False):
        folder = tmp_path / ("lean" if served else "full")  # the names test_cli_lean.normalised evens out
        folder.mkdir()
        args = [fill(arg, db=folder / "jctl.db", approval=APPROVAL) for arg in argv]
        results.append(runtime.jctl(*args, cwd=folder, served=served, stdin=stdin, env=env))
    return results


@pytest.mark.parametrize("args", RUN_CASES, ids=" ".join)
def test_served_run_is_the_run_here(shared: tuple[Runtime, Path, str], tmp_path: Path, args: tuple[str, ...]) -> None:
    served, here = each_side(tmp_path, shared[0], args, stdin='{"orderId": "from-stdin"}')
    assert served.returncode == here.returncode
    assert normalised(served.stdout) == normalised(here.stdout)
    assert normalised(served.stderr, served.stdout) == normalised(here.stderr, here.stdout)


@pytest.mark.parametrize("args", SIGNAL_CASES, ids=" ".join)
def test_served_signal_is_the_signal_here(shared: tuple[Runtime, Path, str], tmp_path: Path,
                                          args: tuple[str, ...]) -> None:
    runtime = shared[0]
    results = []
    for served in (True, False):
        folder = tmp_path / ("lean" if served else "full")
        folder.mkdir()
        env = {"JCTL_DB": str(folder / "jctl.db")}
        started = runtime.jctl("run", str(APPROVAL), "-i", '{"orderId": "o-1"}', "-f", "json", cwd=folder, env=env)
        instance_id = json.loads(started.stdout)["journeyId"]
        argv = [fill(arg, id=instance_id, short=instance_id[:8]) for arg in args]
        results.append(runtime.jctl(*argv, cwd=folder, served=served, stdin='{"approved": true}', env=env))
        results.append(runtime.jctl("history", instance_id, "-f", "json", cwd=folder, env=env))
    served, served_history, here, here_history = results
    assert served.returncode == here.returncode
    assert normalised(served.stdout) == normalised(here.stdout)
    assert normalised(served.stderr, served.stdout) == normalised(here.stderr, here.stdout)
    assert normalised(served_history.stdout) == normalised(here_history.stdout)


def test_paths_are_relative_to_the_clients_folder(shared: tuple[Runtime, Path, str], tmp_path: Path) -> None:
    shutil.copy(APPROVAL, tmp_path / "approval.journey.yaml")
    argv = ("run", "approval.journey.yaml", "--db", "here.db", "-i", '{"orderId": "o-1"}', "-f", "json")
    served = shared[0].jctl(*argv, cwd=tmp_path)
    assert served.returncode == 0, served.stderr
    assert (tmp_path / "here.db").is_file()
    listed = shared[0].jctl("list", "--db", "here.db", "-f", "json", cwd=tmp_path)
    assert json.loads(served.stdout)["journeyId"] in listed.stdout


@pytest.mark.parametrize("env", [{"NO_COLOR": ""}, {"NO_COLOR": "", "FORCE_COLOR": "1"}, {"COLUMNS": "50"},
                                 {"JCTL_SECRETS": "/no/such/secrets.yaml"}, {"JCTL_LIMIT_INPUT": "4"}],
                         ids=lambda env: " ".join(f"{k}={v}" for k, v in env.items()))
def test_environment_is_the_clients(shared: tuple[Runtime, Path, str], tmp_path: Path, env: dict[str, str]) -> None:
    """Colour, width, secrets and limits come from the command's own environment, not the server's."""
    argv = ("run", "{approval}", "--db", "{db}", "-i", '{"orderId": "o-1"}')
    served, here = each_side(tmp_path, shared[0], argv, env=env)
    assert served.returncode == here.returncode
    assert normalised(served.stdout) == normalised(here.stdout)
    assert normalised(served.stderr, served.stdout) == normalised(here.stderr, here.stdout)
    store = {"JCTL_DB": str(shared[1] / "jctl.db"), **env}
    listed = [shared[0].jctl("list", cwd=tmp_path, served=served, env=store) for served in (True, False)]
    assert answers(listed[0]) == answers(listed[1])
    if "FORCE_COLOR" in env:
        assert "\x1b[" in listed[0].stdout  # styled, as the variable asks, though stdout is a pipe


def on_terminal(runtime: Runtime, argv: list[str], cwd: Path, served: bool) -> tuple[int, bytes]:
    """`argv` with a 97-column terminal as stdin/stdout/stderr and no NO_COLOR/COLUMNS: what a person sees."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 97, 0, 0))
    env = {key: value for key, value in os.environ.items() if key not in ("NO_COLOR", "COLUMNS", "JCTL_DB")}
    env.update(runtime.env, PYTHONPATH=str(REPO), TERM="xterm-256color", **({} if served else HERE))
    process = subprocess.Popen([sys.executable, "-m", "jctl", *argv], cwd=cwd, env=env, stdin=follower,
                               stdout=follower, stderr=follower)
    os.close(follower)
    output = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: every writer has closed the terminal
            break
        if not chunk:
            break
        output += chunk
    os.close(leader)
    return process.wait(timeout=PATIENCE_S), output


@pytest.mark.parametrize("args", [("list",), ("status", "{id}"), ("history", "{id}"), ("status", "nope")],
                         ids=" ".join)
def test_terminal_output_is_byte_identical(shared: tuple[Runtime, Path, str], args: tuple[str, ...]) -> None:
    runtime, store, instance_id = shared
    argv = [arg.format(id=instance_id) for arg in args] + ["--db", str(store / "jctl.db")]
    served = on_terminal(runtime, argv, store, served=True)
    assert served == on_terminal(runtime, argv, store, served=False)
    assert served[1]


def command_process(runtime: Runtime, server: int) -> int:
    """The pid of the (one) command the server is running."""
    found: list[int] = []
    wait_until(lambda: found.extend(children_of(server)) or found, "the server's command process")
    return found[0]


def test_stdin_is_the_clients_and_the_command_runs_in_the_server(runtime: Runtime, tmp_path: Path) -> None:
    server = runtime.started(tmp_path)
    client = subprocess.Popen([sys.executable, "-m", "jctl", "run", str(APPROVAL), "-i", "-", "-f", "json",
                               "--db", str(tmp_path / "jctl.db")], cwd=tmp_path, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=dict(os.environ, PYTHONPATH=str(REPO), **runtime.env))
    command_process(runtime, server)  # forked, and reading the client's stdin
    stdout, stderr = client.communicate('{"orderId": "piped"}', timeout=PATIENCE_S)
    assert client.returncode == 0, stderr
    assert json.loads(stdout)["phase"] == "RUNNING"


def blocked_client(runtime: Runtime, folder: Path) -> subprocess.Popen[bytes]:
    """A served `run` waiting for its input on a pipe nobody writes to."""
    return subprocess.Popen([sys.executable, "-m", "jctl", "run", str(APPROVAL), "-i", "-", "--db",
                             str(folder / "jctl.db")], cwd=folder, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=dict(os.environ, PYTHONPATH=str(REPO), **runtime.env))


def test_a_killed_client_takes_its_command_with_it(runtime: Runtime, tmp_path: Path) -> None:
    server = runtime.started(tmp_path)
    client = blocked_client(runtime, tmp_path)
    command = command_process(runtime, server)
    client.kill()
    client.wait(timeout=PATIENCE_S)
    wait_until(lambda: command not in children_of(server), "the command process to die with its client")
    assert client.stdin is not None
    client.stdin.close()
    listed = runtime.jctl("list", "--db", str(tmp_path / "jctl.db"), "-f", "json", cwd=tmp_path)
    assert listed.returncode == 0 and json.loads(listed.stdout) == []  # nothing half-written
    rerun = runtime.jctl("run", str(APPROVAL), "--db", str(tmp_path / "jctl.db"), "-i", '{"orderId": "o-2"}',
                         cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr


def test_a_client_killed_mid_run_leaves_a_store_that_resumes(runtime: Runtime, tmp_path: Path) -> None:
    """Killed while its command works through a journey (one slow HTTP call per round): the command dies with it,
    and `tick` finishes the journey with every round once, as after a killed process of its own."""
    from pytest_httpserver import HTTPServer
    from werkzeug import Request, Response

    started: list[str] = []  # on arrival: an answer still being written when the command dies counts too

    def answer(request: Request) -> Response:
        started.append(request.path)
        time.sleep(0.05)
        return Response('{"ok": true}', content_type="application/json")

    rounds = 12
    with HTTPServer(threaded=True) as service:
        service.expect_request(re.compile(r"/rounds/\d+"), method="POST").respond_with_handler(answer)
        spec = tmp_path / "counter.journey.yaml"
        spec.write_text((CASES / "runner" / "counter.journey.yaml.tmpl").read_text().replace(
            "__BASE__", service.url_for("").rstrip("/")))
        server = runtime.started(tmp_path)
        db = str(tmp_path / "jctl.db")
        client = subprocess.Popen([sys.executable, "-m", "jctl", "run", str(spec), "--db", db, "-f", "json",
                                   "--input", json.dumps({"rounds": rounds})], cwd=tmp_path,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  env=dict(os.environ, PYTHONPATH=str(REPO), **runtime.env))
        command = command_process(runtime, server)
        wait_until(lambda: len(started) >= 3, "the command to be mid-run")
        client.kill()
        client.wait(timeout=PATIENCE_S)
        wait_until(lambda: command not in children_of(server), "the command process to die with its client")
        calls_when_killed = len(started)
        time.sleep(0.3)
        assert len(started) == calls_when_killed  # nobody calls on behalf of the killed command
        assert calls_when_killed < rounds
        finished = runtime.jctl("tick", "--until-idle", "--db", db, cwd=tmp_path)
        assert finished.returncode == 0, finished.stderr
    listed = json.loads(runtime.jctl("list", "--db", db, "-f", "json", cwd=tmp_path).stdout)
    (journey_id,) = [row["journeyId"] for row in listed]
    status = json.loads(runtime.jctl("status", journey_id, "--db", db, "-f", "json", cwd=tmp_path).stdout)
    assert status["phase"] == "SUCCEEDED" and status["output"] == {"status": "COUNTED", "count": rounds}
    history = json.loads(runtime.jctl("history", journey_id, "--db", db, "-f", "json", cwd=tmp_path).stdout)
    assert [event["seq"] for event in history] == list(range(1, len(history) + 1))
    bumps = [event for event in history if event["type"] == "state.completed" and event["state"] == "bump"]
    assert len(bumps) == rounds


def test_a_command_outlives_its_killed_server_with_its_answer(runtime: Runtime, tmp_path: Path) -> None:
    server = runtime.started(tmp_path)
    client = blocked_client(runtime, tmp_path)
    command_process(runtime, server)
    os.kill(server, signal.SIGKILL)
    stdout, stderr = client.communicate(b'{"orderId": "o-1"}', timeout=PATIENCE_S)
    assert (client.returncode, stderr) == (0, b"") and b"RUNNING" in stdout


def test_ctrl_c_and_sigterm_reach_the_command(runtime: Runtime, tmp_path: Path) -> None:
    """The client forwards them: Ctrl-C ends the command as guarded_main ends it (130, no traceback), SIGTERM
    kills it, and the client dies of the same signal, as a command in its own process would."""
    server = runtime.started(tmp_path)
    for signum, expected in ((signal.SIGINT, 130), (signal.SIGTERM, -signal.SIGTERM)):
        client = blocked_client(runtime, tmp_path)
        command_process(runtime, server)
        client.send_signal(signum)
        client.wait(timeout=PATIENCE_S)  # stdin stays open until then: a closed one would end the command first
        stdout, stderr = client.communicate(timeout=PATIENCE_S)
        assert (client.returncode, stdout, stderr) == (expected, b"", b"")
        wait_until(lambda: not children_of(server), "the command process to end")


def test_no_server_runs_here_and_starts_one(runtime: Runtime, tmp_path: Path) -> None:
    first = runtime.jctl("list", "-f", "json", cwd=tmp_path)
    assert first.returncode == 0 and first.stdout == "[]\n"
    wait_until(lambda: any(listening(path) for path in runtime.sockets()), "a server started for the next command")


def test_disabled_runs_here_and_starts_nothing(runtime: Runtime, tmp_path: Path) -> None:
    for _ in range(2):
        assert runtime.jctl("list", "-f", "json", cwd=tmp_path, served=False).returncode == 0
    time.sleep(1.0)  # a server would have created its lock file at once
    assert not list((runtime.folder / "jctl").glob("cmd-*"))


def test_idle_server_leaves(runtime: Runtime, tmp_path: Path) -> None:
    server = runtime.started(tmp_path, env={"JCTL_DAEMON_IDLE_S": "1"})
    path = runtime.sockets()[0]
    wait_until(lambda: server_pid(path) is None and not path.exists(), "the idle server to leave")


def test_racing_starts_leave_one_server(runtime: Runtime, tmp_path: Path) -> None:
    commands = [subprocess.Popen([sys.executable, "-m", "jctl", "list", "-f", "json"], cwd=tmp_path,
                                 stdout=subprocess.PIPE, env=dict(os.environ, PYTHONPATH=str(REPO), **runtime.env))
                for _ in range(4)]
    assert [command.communicate(timeout=PATIENCE_S)[0] for command in commands] == [b"[]\n"] * 4
    wait_until(lambda: any(listening(path) for path in runtime.sockets()), "a server")
    path = runtime.sockets()[0]
    wait_until(lambda: len(servers_of(path)) == 1, "the losers of the race to leave, having found the lock taken")
    time.sleep(1.0)
    assert len(servers_of(path)) == 1


def servers_of(path: Path) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and str(path) in (entry / "cmdline").read_bytes().decode(errors="replace"):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def test_stale_and_foreign_sockets_are_passed_by(runtime: Runtime, tmp_path: Path) -> None:
    server = runtime.started(tmp_path)
    path = runtime.sockets()[0]
    os.kill(server, signal.SIGKILL)  # leaves its socket file behind
    wait_until(lambda: server_pid(path) is None, "the server to die")
    assert path.exists()
    stale = runtime.jctl("list", "-f", "json", cwd=tmp_path)
    assert (stale.returncode, stale.stdout) == (0, "[]\n")
    wait_until(lambda: listening(path), "a new server in the stale one's place")
    replacement = server_pid(path)
    assert replacement is not None and replacement != server
    os.kill(replacement, signal.SIGKILL)
    wait_until(lambda: server_pid(path) is None, "the new server to die")
    path.unlink()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as foreign:  # answers nothing and hangs up
        foreign.bind(str(path))
        foreign.listen(8)
        foreign.settimeout(PATIENCE_S)
        client = subprocess.Popen([sys.executable, "-m", "jctl", "list", "-f", "json"], cwd=tmp_path,
                                  stdout=subprocess.PIPE, env=dict(os.environ, PYTHONPATH=str(REPO), **runtime.env))
        foreign.accept()[0].close()
        assert client.communicate(timeout=PATIENCE_S)[0] == b"[]\n" and client.returncode == 0


def test_a_runtime_folder_others_can_enter_is_not_used(runtime: Runtime, tmp_path: Path) -> None:
    (runtime.folder / "jctl").mkdir(mode=0o755)
    os.chmod(runtime.folder / "jctl", 0o755)
    for _ in range(2):
        result = runtime.jctl("list", "-f", "json", cwd=tmp_path)
        assert (result.returncode, result.stdout) == (0, "[]\n")
    time.sleep(1.0)
    assert not list((runtime.folder / "jctl").iterdir())


def test_a_changed_checkout_gets_its_own_server_and_the_old_one_leaves(runtime: Runtime, tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    shutil.copytree(REPO / "jctl", checkout / "jctl", ignore=shutil.ignore_patterns("__pycache__"))
    env = {"PYTHONPATH": str(checkout)}
    old_server = runtime.started(tmp_path, env=env)
    (old_socket,) = runtime.sockets()
    os.utime(checkout / "jctl" / "cli" / "views.py", ns=(0, 0))
    new_server = runtime.started(tmp_path, env=env)
    assert new_server != old_server and server_pid(old_socket) in (None, old_server)
    wait_until(lambda: server_pid(old_socket) is None and not old_socket.exists(), "the old server to leave")
    assert [path for path in runtime.sockets() if server_pid(path) == new_server]


def test_a_folder_shadowing_a_loaded_module_runs_the_command_here(shared: tuple[Runtime, Path, str],
                                                                   tmp_path: Path) -> None:
    """`python -m jctl` imports from its folder first: there, a `typer.py` is the typer the command gets."""
    (tmp_path / "typer.py").write_text("raise SystemExit('the typer of this folder')\n")
    served = shared[0].jctl("status", "--bogus", cwd=tmp_path)
    assert answers(served) == answers(shared[0].jctl("status", "--bogus", cwd=tmp_path, served=False))
    assert "the typer of this folder" in served.stderr


def test_the_client_path_stays_tiny() -> None:
    """Every hot command pays for what the entry point and the client import before they connect."""
    result = subprocess.run([sys.executable, "-X", "importtime", "-c",
                             "from jctl.cli.app import main; import jctl.cli.warm_client"],
                            capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(REPO)), check=True)
    modules = {line.rsplit("|", 1)[1].strip() for line in result.stderr.splitlines() if "|" in line}
    assert "jctl.cli.warm_client" in modules  # the output really is the import log
    assert modules.isdisjoint({"pathlib", "typing", "socket", "signal", "json", "hashlib", "re", "enum"})



def test_files_named_like_loaded_modules_but_not_importable_leave_the_folder_served(runtime: Runtime,
                                                                                    tmp_path: Path) -> None:
    """`jctl.db` or `signal.json` cannot be imported as `jctl` or `signal`: a folder holding them is served."""
    (tmp_path / "signal.json").write_text("{}")
    first = runtime.jctl("run", str(APPROVAL), "-i", '{"orderId": "o-1"}', "--db", "jctl.db", cwd=tmp_path,
                         served=False)
    assert first.returncode == 0 and (tmp_path / "jctl.db").is_file(), first.stderr
    server = runtime.started(tmp_path)
    client = blocked_client(runtime, tmp_path)
    command_process(runtime, server)  # the command runs in the server, not in its client
    stdout, stderr = client.communicate(b'{"orderId": "o-2"}', timeout=PATIENCE_S)
    assert (client.returncode, stderr) == (0, b"") and b"RUNNING" in stdout
