"""The shared expression service: commands evaluate through a warm daemon that keeps the workers' sandbox, deadline
and memory cap, starts on demand, replaces a dead predecessor, lives only in a private folder and leaves when idle."""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import CASES, run_jctl

from jctl.expr import daemon
from jctl.expr.worker import WorkerDied


def request(expr: str, document: object = None, lang: str = "jq") -> dict[str, object]:
    return {"lang": lang, "expr": expr, "document": document, "now_ms": 0, "seed": None, "timeout_ms": 1000}


def daemon_pids(runtime: Path) -> list[int]:
    """Daemons serving a socket under `runtime` (their command line names it)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if "jctl.expr.daemon" in command and str(runtime) in command:
                found.append(int(entry.name))
    return found


def wait_for(condition: object, seconds: float = 30.0) -> bool:
    give_up = time.monotonic() + seconds
    while time.monotonic() < give_up:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def runtime(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private runtime folder for this test's daemons (short: a socket path has at most 107 bytes); they are
    stopped afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="jctl-test-"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(folder))
    yield folder
    for pid in daemon_pids(folder):
        os.kill(pid, signal.SIGKILL)
    shutil.rmtree(folder, ignore_errors=True)


def test_a_runtime_folder_too_deep_for_a_socket_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/tmp/" + "deep/" * 30)
    assert daemon.runtime_dir() == Path("/tmp") / f"jctl-{os.getuid()}"
    assert len(os.fsencode(daemon.socket_path())) <= daemon.MAX_SOCKET_PATH


def test_evaluations_go_through_one_daemon_that_outlives_its_clients(runtime: Path) -> None:
    first = daemon.DaemonPool("python", 512)
    assert first.request(request(".a + 1", {"a": 41}), 5.0) == {"ok": True, "json": "42"}
    first.close()
    serving = daemon_pids(runtime)
    assert len(serving) == 1 and daemon.socket_path().is_socket()
    second = daemon.DaemonPool("python", 512)
    assert second.request(request("[.[] * 2]", [1, 2]), 5.0) == {"ok": True, "json": "[2, 4]"}
    assert daemon_pids(runtime) == serving  # the same warm process answered
    second.close()


def test_a_runaway_is_killed_at_its_deadline_and_the_next_request_is_served(runtime: Path) -> None:
    pool = daemon.DaemonPool("python", 512)
    with pytest.raises(WorkerDied) as died:
        pool.request(request("def f: f; f"), 1.0)
    assert died.value.timed_out
    assert pool.request(request("1 + 1"), 5.0) == {"ok": True, "json": "2"}
    pool.close()


def test_a_killed_daemon_is_replaced_by_the_next_command(runtime: Path) -> None:
    pool = daemon.DaemonPool("python", 512)
    pool.request(request("1"), 5.0)
    pool.close()
    old, = daemon_pids(runtime)
    os.kill(old, signal.SIGKILL)
    assert wait_for(lambda: old not in daemon_pids(runtime))
    assert daemon.socket_path().exists()  # a stale socket file is left behind
    fresh = daemon.DaemonPool("python", 512)
    assert fresh.request(request("2"), 5.0) == {"ok": True, "json": "2"}
    assert old not in daemon_pids(runtime) and len(daemon_pids(runtime)) == 1
    fresh.close()


def test_an_idle_daemon_leaves_and_removes_its_socket(runtime: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JCTL_EXPR_DAEMON_IDLE_S", "0.5")
    pool = daemon.DaemonPool("python", 512)
    pool.request(request("3"), 5.0)
    assert daemon_pids(runtime)
    pool.close()
    assert wait_for(lambda: not daemon_pids(runtime) and not daemon.socket_path().exists())


def test_a_folder_others_can_enter_is_never_used(runtime: Path) -> None:
    runtime.joinpath("jctl").mkdir(mode=0o777)
    runtime.joinpath("jctl").chmod(0o777)
    pool = daemon.DaemonPool("python", 512)
    assert pool.request(request("4"), 5.0) == {"ok": True, "json": "4"}  # answered by a worker of its own
    assert daemon_pids(runtime) == [] and not daemon.socket_path().exists()
    pool.close()


def test_commands_answer_the_same_with_and_without_the_daemon(runtime: Path, tmp_path: Path) -> None:
    spec = CASES / "runner" / "counter.journey.yaml.tmpl"
    example = tmp_path / "counter.journey.yaml"
    example.write_text(spec.read_text().replace("__BASE__", "https://counter.example.com"))
    outputs = []
    for setting in ("0", "1"):  # without first: no daemon may exist before the run that uses it
        env = {"XDG_RUNTIME_DIR": str(runtime), "JCTL_EXPR_DAEMON": setting, "JCTL_DB": str(tmp_path / f"{setting}.db")}
        result = run_jctl("run", str(example), "-i", '{"rounds": 3}', "--mocks",
                          str(CASES / "runner" / "counter.mocks.yaml"), "-f", "json", cwd=tmp_path, env=env)
        assert result.returncode == 0, result.stderr
        outputs.append({key: value for key, value in json.loads(result.stdout).items() if key in ("phase", "output")})
        assert len(daemon_pids(runtime)) == int(setting)
    assert outputs[0] == outputs[1] and outputs[0]["phase"] == "SUCCEEDED"
