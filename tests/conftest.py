from __future__ import annotations

import contextlib
import copy
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import settings


from jctl.spec.loader import LoadedDocument

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus"
CASES = Path(__file__).resolve().parent / "cases"

# no timed assertions: Hypothesis's per-example deadline fails a sound test on a busy machine. A test's own
# @settings still chooses its example count; HYPOTHESIS_PROFILE picks another registered profile.
settings.register_profile("jctl", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "jctl"))

# The longest tests (seconds of one core when the machine is idle), by node-id prefix. Under xdist they are started
# first, spread over the workers, so no worker is left running a long test alone while the other has finished:
# see pytest_collection_modifyitems. A file listed whole stays on one worker (test_temporal.py: one dev server).
# The summary names any test over SLOW_S that is missing here.
SLOW_FIRST: dict[str, float] = {
    "tests/test_temporal.py::": 30.0,
    "tests/test_typing.py::": 14.0,  # a cold mypy cache (a fresh clone); 3 s once seeded
    "tests/test_serve_load.py::": 12.0,
    "tests/test_expr_sandbox.py::test_jolt_memory_bomb_is_capped": 3.0,
    "tests/test_fuzz.py::test_random_journey_shaped_documents": 9.0,
    "tests/test_cli_runner.py::test_sigkill_after_signal_received": 8.0,
    "tests/test_cli_runner.py::test_sigint_to_a_busy_worker": 3.5,
    "tests/test_list_stream.py::test_batches_are_written": 3.0,
    "tests/test_scenarios.py::test_json_and_junit_formats": 3.0,
    "tests/test_cli_runner.py::test_worker_fires_a_due_timer": 3.0,
    "tests/test_limits.py::test_context_at_just_under": 3.0,
    "tests/test_masking.py::test_serve_and_remote_targets": 3.0,
    "tests/test_cli_runner.py::test_sigkill_mid_run_resumes": 3.0,
    "tests/test_warm_server.py::test_a_client_killed_mid_run": 3.0,
    "tests/test_plugin_branches.py::test_a_run_killed_inside": 3.0,
    "tests/test_scenarios.py::test_scenarios_run_in_parallel": 3.0,
    "tests/test_limits.py::test_history_events_at_just_under": 3.0,
}
WHOLE_FILES = ("tests/test_temporal.py::",)
SLOW_S = 8.0  # seconds of one test call: above it, a test belongs in SLOW_FIRST (or should be made faster)


@pytest.fixture(scope="session", autouse=True)
def private_expression_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The commands tests run share an expression daemon and a warm command server of this session's own (never
    the user's), which leave with the session."""
    runtime = tmp_path_factory.mktemp("run")
    names = ("XDG_RUNTIME_DIR", "JCTL_EXPR_DAEMON_IDLE_S", "JCTL_DAEMON_IDLE_S")
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update(XDG_RUNTIME_DIR=str(runtime), JCTL_EXPR_DAEMON_IDLE_S="120", JCTL_DAEMON_IDLE_S="120")
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    for sock in runtime.glob("jctl/*.sock"):
        _stop_daemon(sock)


def _stop_daemon(sock: Path) -> None:
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and str(sock) in (entry / "cmdline").read_bytes().decode(errors="replace"):
                os.kill(int(entry.name), 9)
        except OSError:
            continue


@pytest.fixture
def worker_requests(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The requests expression evaluations send to their workers (answered as usual), from an empty memory of
    answers, so every evaluation this test makes is seen."""
    from jctl.expr import memo, worker

    sent: list[dict[str, Any]] = []
    real = worker.WorkerPool.request

    def recording(self: worker.WorkerPool, payload: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        sent.append(payload)
        return real(self, payload, timeout_s)

    monkeypatch.setattr(worker.WorkerPool, "request", recording)
    monkeypatch.setattr(memo, "ANSWERS", memo.Answers())
    return sent


@pytest.fixture
def corpus_dir() -> Path:
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is not present")
    return CORPUS


def run_jctl(*args: str, cwd: Path | None = None, stdin: str | None = None, env: dict[str, str] | None = None,
             timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a subprocess: exit codes and output are the contract."""
    environment = dict(os.environ, PYTHONPATH=str(REPO), NO_COLOR="1", COLUMNS="200")
    environment.pop("JCTL_DB", None)
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "jctl", *args], cwd=cwd, input=stdin, capture_output=True, text=True,
        env=environment, timeout=timeout,
    )


def node_paths(node: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The path of every node of a parsed document, the root's included."""
    found = [at]
    if isinstance(node, dict):
        for key, value in node.items():
            found += node_paths(value, at + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += node_paths(value, at + (index,))
    return found


def with_wrong_types(original: LoadedDocument, replacements: tuple[Any, ...]
                     ) -> Iterator[tuple[Any, LoadedDocument]]:
    """(replacement, `original` with one node replaced by it, positions kept) for each node and each of
    `replacements`: what the checks must survive without crashing."""
    for path in node_paths(original.data):
        for value in replacements:
            yield value, LoadedDocument(original.path, original.text, replaced(original.data, path, value),
                                        original.source_map, [])


def replaced(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    """`data` with the node at `path` replaced, copying only the containers along the path."""
    if not path:
        return value
    copied = copy.copy(data)
    copied[path[0]] = replaced(data[path[0]], path[1:], value)
    return copied


def cli_in(folder: Path, *args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
    """The CLI run in `folder` on the store there (JCTL_DB), expected to exit `code` without a traceback."""
    result = run_jctl(*args, cwd=folder, env={"JCTL_DB": str(folder / "jctl.db")})
    assert "Traceback" not in result.stdout + result.stderr
    assert result.returncode == code, result.stdout + result.stderr
    return result


def cli_json_in(folder: Path, *args: str, code: int = 0) -> Any:
    return json.loads(cli_in(folder, *args, "--format", "json", code=code).stdout)


def jsonata(expr: str) -> dict[str, str]:
    return {"lang": "jsonata", "expr": expr}


# a poll loop: GET a job, a JSONata choice on its state, a 30 s timer back to the GET
POLL_STATES = {
    "poll": {"type": "task", "task": {"kind": "httpCall:v1", "method": "GET", "url": "https://jobs.example.com/j/1",
                                      "resultVar": "job"}, "next": "route"},
    "route": {"type": "choice", "choices": [{"when": {"predicate": jsonata('context.job.body.state = "DONE"')},
                                             "next": "done"}], "default": "pause"},
    "pause": {"type": "timer", "timer": {"duration": "PT30S"}, "next": "poll"},
    "done": {"type": "succeed", "outputVar": "job"},
}


def write_journey(tmp_path: Path, states: dict[str, Any], start: str, name: str = "demo", **spec: Any) -> Path:
    """A minimal `kind: Journey` spec with these states, written as YAML into tmp_path."""
    document = {"apiVersion": "v1", "kind": "Journey", "metadata": {"name": name, "version": "0.1.0"},
                "spec": {**spec, "start": start, "states": states}}
    path = tmp_path / f"{name}.journey.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


class PluginCli:
    """A folder holding a store, a plugin configuration and a secrets file (given to the CLI through JCTL_DB,
    JCTL_PLUGIN_CONFIG and JCTL_SECRETS), and the real CLI run in it: the setup task-plugin tests share."""

    def __init__(self, folder: Path):
        self.folder = folder

    def __call__(self, *args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
        result = run_jctl(*args, cwd=self.folder, env={"JCTL_DB": str(self.folder / "jctl.db"),
                                                       "JCTL_PLUGIN_CONFIG": str(self.folder / "plugins.yaml"),
                                                       "JCTL_SECRETS": str(self.folder / "secrets.yaml")})
        assert "Traceback" not in result.stdout + result.stderr
        assert result.returncode == code, result.stdout + result.stderr
        return result

    def json(self, *args: str, code: int = 0) -> Any:
        return json.loads(self(*args, "--format", "json", code=code).stdout)

    def configure(self, plugins: dict[str, Any], secrets: dict[str, str] | None = None) -> None:
        (self.folder / "plugins.yaml").write_text(yaml.safe_dump(plugins))
        (self.folder / "secrets.yaml").write_text(yaml.safe_dump(secrets or {}))

    def assert_never_stored(self, *secrets: str) -> None:
        stored = b"".join(path.read_bytes() for path in self.folder.glob("jctl.db*"))
        for secret in secrets:
            assert secret.encode() not in stored


@pytest.fixture
def plugin_cli(tmp_path: Path) -> PluginCli:
    return PluginCli(tmp_path)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under xdist's worksteal, each worker gets one contiguous slice of the collection and runs it in order (an idle
    worker steals from the end of another's queue): put the slow tests at the head of each slice, balanced."""
    given = getattr(config, "workerinput", {})
    workers = int(given.get("workercount", 0))
    if workers < 2 or given.get("jctl_dist") != "worksteal":
        return
    groups: dict[str, list[pytest.Item]] = {}
    rest: list[pytest.Item] = []
    for item in items:
        prefix = next((p for p in SLOW_FIRST if item.nodeid.startswith(p)), None)
        if prefix is None:
            rest.append(item)
        else:
            key = prefix if prefix in WHOLE_FILES else item.nodeid
            groups.setdefault(key, []).append(item)
    heads: list[list[pytest.Item]] = [[] for _ in range(workers)]
    loads = [0.0] * workers
    for key, group in sorted(groups.items(), key=lambda kv: -_estimate(kv[0])):
        lightest = loads.index(min(loads))
        heads[lightest] += group
        loads[lightest] += _estimate(key)
    ordered: list[pytest.Item] = []
    pending = len(items)
    for index, head in enumerate(heads):  # the slice sizes xdist's WorkStealingScheduling sends
        size = pending // (workers - index)
        pending -= size
        fill = max(size - len(head), 0)
        ordered += head + rest[:fill]
        del rest[:fill]
    items[:] = ordered + rest


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """Tell each xdist worker how tests are distributed (a worker's own --dist option reads "no")."""
    node.workerinput["jctl_dist"] = node.config.getoption("dist")


def _estimate(key: str) -> float:
    return next(seconds for prefix, seconds in SLOW_FIRST.items() if key.startswith(prefix))


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """The guard that keeps the suite fast: name the slow tests SLOW_FIRST does not know, and say so when the run
    took longer than JCTL_SUITE_BUDGET_S seconds (.ci/run sets it: the house rule is five minutes). It warns rather
    than fails: the time depends on the machine and its load, and a timed verdict is not a test."""
    if hasattr(config, "workerinput"):
        return
    unknown = sorted({(report.duration, report.nodeid) for reports in terminalreporter.stats.values()
                      for report in reports if getattr(report, "when", None) == "call"
                      and getattr(report, "duration", 0.0) > SLOW_S
                      and not report.nodeid.startswith(tuple(SLOW_FIRST))}, reverse=True)
    if unknown:
        terminalreporter.write_sep("-", f"tests over {SLOW_S:g} s not in conftest.SLOW_FIRST (add them, or speed them up)")
        for duration, nodeid in unknown[:20]:
            terminalreporter.write_line(f"{duration:6.2f}s {nodeid}")
    over = getattr(config, "_jctl_over_budget", None)
    if over:
        terminalreporter.write_sep("!", f"the suite took {over[0]:.0f} s, over its budget of {over[1]:g} s "
                                        "(JCTL_SUITE_BUDGET_S): parallelise it or speed up its slowest tests")


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config._jctl_started = time.monotonic()  # type: ignore[attr-defined]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    budget = os.environ.get("JCTL_SUITE_BUDGET_S")
    if not budget or hasattr(session.config, "workerinput"):
        return
    elapsed = time.monotonic() - session.config._jctl_started  # type: ignore[attr-defined]
    if elapsed > float(budget):
        session.config._jctl_over_budget = (elapsed, float(budget))  # type: ignore[attr-defined]


def cache_journeys(tmp_path: Path) -> tuple[Path, Path]:
    """A cache:v1 writer journey (puts `profile` under user:<userId> for 600 s) and a reader (its output)."""
    put = write_journey(tmp_path, {
        "remember": {"type": "task", "task": {"kind": "cache:v1", "operation": "put",
                                              "key": {"mapper": jsonata('"user:" & userId')},
                                              "value": {"mapper": jsonata("profile")}, "ttlSeconds": 600},
                     "next": "done"},
        "done": {"type": "succeed"}}, "remember", name="writer")
    get = write_journey(tmp_path, {
        "recall": {"type": "task", "task": {"kind": "cache:v1", "operation": "get",
                                            "key": {"mapper": jsonata('"user:" & userId')}, "resultVar": "cached"},
                   "next": "done"},
        "done": {"type": "succeed", "outputVar": "cached"}}, "recall", name="reader")
    return put, get


class _EveryName(frozenset[str]):
    """A name set that holds every name: what an evaluation sent before its bindings were pruned."""

    def __contains__(self, _: object) -> bool:
        return True


@contextlib.contextmanager
def whole_bindings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Evaluations inside send every binding and alias and remember nothing: the baseline pruning must match."""
    from jctl.expr import memo

    with monkeypatch.context() as patched:
        patched.setattr(memo, "names", lambda text: _EveryName())
        patched.setattr(memo, "narrowed", lambda lang, text, given: (given, False))
        yield
