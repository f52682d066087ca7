"""Purity and bounds: forbidden forms refused at compile_check and evaluate, the guard module as a second wall,
runaway loops and memory bombs ending in bounded time with the worker recovering."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from jctl.expr import EvalOptions, ExpressionError, compile_check, dataweave, evaluate, pools, worker

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)
SECRET = "s3cr3t-token-do-not-leak"


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text(SECRET)
    return path


def forms(secret: Path) -> list[str]:
    url = f"file://{secret}"
    return [
        f'readUrl("{url}", "text/plain")',
        f'dw::Core::readUrl("{url}", "text/plain")',
        f'do {{ import readUrl as r from dw::Core\n---\nr("{url}", "text/plain") }}',
        f'"value: $(readUrl("{url}", "text/plain"))"',
        f"'value: $(dw::Core::readUrl(\"{url}\", \"text/plain\"))'",
        f'dw::Runtime::evalUrl("{url}")',
        'dw::Runtime::run("main.dwl", {"main.dwl": "1"})',
        'dw::Runtime::eval({main: "main.dwl", fs: {"main.dwl": "1"}})',
        'dw::System::envVar("HOME")',
        "dw::System::envVars()",
        'dw::Runtime::prop("user.home")',
        "dw::Runtime::props()",
        "dw::Runtime::wait(1, 100000)",
        f'read("readUrl(\\"{url}\\")", "application/dw")',
        "dw::core::Dates::today()",
        "dw::util::Timer::currentMilliseconds()",
        "dw :: Runtime :: props()",
        "java!java::lang::System::getenv()",
    ]


def test_each_forbidden_form_is_refused_at_compile_check_and_evaluate(secret_file: Path) -> None:
    options = EvalOptions(now=NOW, timeout_s=5)
    for expr in forms(secret_file):
        problems = compile_check("dataweave", expr)
        assert problems and problems[0].kind == "forbidden", expr
        assert problems[0].line is not None and problems[0].column is not None
        with pytest.raises(ExpressionError) as raised:
            evaluate("dataweave", expr, {"context": {}}, options)
        assert raised.value.kind == "forbidden", expr
        assert SECRET not in str(raised.value)


def _raw_guarded_run(expr: str) -> dict[str, object]:
    """Bypass the static check: only the guard module and the worker stand between the expression and the host."""
    request, _ = dataweave.request_for(expr, {"context": {}}, [], NOW, None, None)
    return pools.pool("dataweave", 512).request(request, 10)


@pytest.mark.parametrize(
    "template",
    [
        'readUrl("{url}", "text/plain")',
        'do {{ var f = readUrl --- f("{url}", "text/plain") }}',
        '"$(readUrl("{url}", "text/plain"))"',
        'read("readUrl(\\"{url}\\", \\"text/plain\\")", "application/dw")',
        'read("readUrl(\\"{url}\\", \\"text/plain\\")")',
        'read("<a>x</a>", "application/xml", {{supportDtd: true, externalEntities: true}})',
    ],
)
def test_guard_module_holds_without_the_static_check(secret_file: Path, template: str) -> None:
    response = _raw_guarded_run(template.format(url=f"file://{secret_file}"))
    assert response.get("ok") is not True
    assert SECRET not in str(response)


def test_guard_allows_plain_data_reads_and_silences_log() -> None:
    options = EvalOptions(now=NOW)
    assert evaluate("dataweave", 'read("{\\"a\\": 1}", "application/json").a', {"context": {}}, options) == 1
    assert evaluate("dataweave", 'log("debug", 5)', {"context": {}}, options) == 5


def test_jq_forbidden_forms() -> None:
    for expr in ("$ENV.HOME", 'import "x" as x; .', 'include "x"; .'):
        assert compile_check("jq", expr)[0].kind == "forbidden"
        with pytest.raises(ExpressionError) as raised:
            evaluate("jq", expr, {"context": {}}, EvalOptions(now=NOW))
        assert raised.value.kind == "forbidden"
    assert evaluate("jq", "env", {"context": {}}, EvalOptions(now=NOW)) == {}


def test_jsonata_eval_is_refused() -> None:
    assert compile_check("jsonata", '$eval("1+1")')[0].kind == "forbidden"


@pytest.mark.parametrize(
    ("lang", "expr"),
    [
        ("dataweave", "(1 to 2000000000) reduce ((x, acc = 0) -> acc + x)"),
        ("dataweave", "do { @TailRec() fun f(n) = f(n + 1) --- f(1) }"),
        ("jq", "def f: f; f"),
        ("jq", "[repeat(1)] | length"),
        ("jsonata", "($f := function($x){ $f($x + 1) }; $f(1))"),
    ],
)
def test_runaway_ends_within_the_limit_and_the_worker_recovers(lang: str, expr: str) -> None:
    options = EvalOptions(now=NOW, timeout_s=1.5)
    started = time.monotonic()
    with pytest.raises(ExpressionError) as raised:
        evaluate(lang, expr, {"context": {"a": 1}}, options)
    elapsed = time.monotonic() - started
    assert raised.value.kind in ("timeout", "runtime", "memory"), raised.value
    assert elapsed < 1.5 + 2.0
    recovered = {"dataweave": "context.a + 1", "jq": ".context.a + 1", "jsonata": "context.a + 1"}[lang]
    assert evaluate(lang, recovered, {"context": {"a": 1}}, options) == 2


def test_deep_recursion_is_cut() -> None:
    with pytest.raises(ExpressionError) as raised:
        evaluate("dataweave", "do { fun f(n) = f(n + 1) --- f(1) }", {"context": {}}, EvalOptions(now=NOW))
    assert raised.value.kind in ("runtime", "timeout")


@pytest.mark.parametrize(
    ("lang", "expr"),
    [
        ("dataweave", "do { fun dbl(s, n) = if (n <= 0) s else dbl(s ++ s, n - 1) --- sizeOf(dbl('abcdefgh', 40)) }"),
        ("jsonata", "$length($reduce([1..40], function($a, $b){ $a & $a }, 'abcdefgh'))"),
        ("jq", "reduce range(40) as $i (\"abcdefgh\"; . + .) | length"),
    ],
)
def test_memory_bomb_is_capped(lang: str, expr: str) -> None:
    options = EvalOptions(now=NOW, timeout_s=10, memory_mb=256)
    started = time.monotonic()
    with pytest.raises(ExpressionError) as raised:
        evaluate(lang, expr, {"context": {"a": 1}}, options)
    assert raised.value.kind in ("memory", "timeout")
    assert time.monotonic() - started < 12
    follow = {"dataweave": "context.a", "jq": ".context.a", "jsonata": "context.a"}[lang]
    assert evaluate(lang, follow, {"context": {"a": 1}}, options) == 1


def test_worker_has_an_empty_environment_and_a_private_cwd() -> None:
    assert evaluate("jq", ".context", {"context": 1}, EvalOptions(now=NOW)) == 1
    for kind in ("python", "dataweave"):
        active = pools.pool(kind, 512)._active
        assert active is not None
        pid = active.process.pid
        assert Path(f"/proc/{pid}/environ").read_bytes() == b""
        cwd = Path(f"/proc/{pid}/cwd").resolve()
        assert cwd.name.startswith("jctl-expr-") and cwd != Path.cwd()


def test_shutdown_stops_the_workers() -> None:
    from jctl.expr import shutdown

    evaluate("jq", ".", {"context": 1}, EvalOptions(now=NOW))
    process = pools.pool("python", 512)._active.process  # type: ignore[union-attr]
    shutdown()
    assert process.poll() is not None


def test_workers_die_with_their_parent() -> None:
    import os
    import signal
    import subprocess
    import sys

    script = (
        "import sys, time\n"
        "from datetime import datetime, timezone\n"
        "from jctl.expr import EvalOptions, evaluate, pools\n"
        "evaluate('jq', '.', {'context': 1}, EvalOptions(now=datetime.now(timezone.utc)))\n"
        "pool = pools.pool('python', 512)\n"
        "print(pool._active.process.pid, pool._spare.process.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    root = str(Path(__file__).resolve().parents[1])
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": root})
    assert parent.stdout is not None
    pids = [int(pid) for pid in parent.stdout.readline().split()]
    assert len(pids) == 2
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    alive = pids
    while alive and time.monotonic() < deadline:
        alive = [pid for pid in pids if Path(f"/proc/{pid}").exists()
                 and "Z" not in Path(f"/proc/{pid}/stat").read_text().split(")")[-1][:3]]
        time.sleep(0.05)
    assert alive == []


def test_guard_refusals_surface_as_forbidden() -> None:
    expr = 'read("1", "appl" ++ "ication/" ++ "dw")'  # not visible to the static check
    assert compile_check("dataweave", expr) == []
    with pytest.raises(ExpressionError) as raised:
        evaluate("dataweave", expr, {"context": {}}, EvalOptions(now=NOW))
    assert raised.value.kind == "forbidden" and "data mime types" in raised.value.message


def jolt_doubling(steps: int) -> str:
    """A chain of shifts that each copy the whole document twice: its size doubles with every step."""
    import json

    return json.dumps([{"operation": "shift", "spec": {"@": ["a", "b"]}}] * steps)


def test_jolt_runs_under_the_deadline_and_the_worker_recovers() -> None:
    options = EvalOptions(now=NOW, timeout_s=0.3)
    with pytest.raises(ExpressionError) as raised:
        evaluate("jolt", jolt_doubling(17), {"context": {"payload": "x" * 64}}, options)
    assert raised.value.kind in ("timeout", "memory"), raised.value
    spec = '[{"operation": "shift", "spec": {"context": {"a": "out"}}}]'
    assert evaluate("jolt", spec, {"context": {"a": 1}}, options) == {"out": 1}


def test_jolt_memory_bomb_is_capped() -> None:
    options = EvalOptions(now=NOW, timeout_s=10, memory_mb=64)
    with pytest.raises(ExpressionError) as raised:
        evaluate("jolt", jolt_doubling(26), {"context": {"payload": "x" * 64}}, options)
    assert raised.value.kind in ("memory", "timeout"), raised.value


def test_a_dataweave_result_of_several_megabytes_comes_back() -> None:
    """Up to the context limit (4 MB by default), a result is not cut by the worker's file-size cap."""
    value = evaluate("dataweave", "(1 to 300000) map 'abcdefghij'", {"context": {}}, EvalOptions(now=NOW))
    assert len(value) == 300000 and value[-1] == "abcdefghij"


def test_worker_folders_of_a_killed_jctl_are_removed_on_the_next_start(tmp_path: Path) -> None:
    import subprocess
    import sys

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    orphan = tmp_path / f"jctl-expr-{dead.pid}-abc"
    (orphan / "dw").mkdir(parents=True)
    alive = tmp_path / f"jctl-expr-{__import__('os').getpid()}-def"
    alive.mkdir()
    assert worker.remove_orphaned_tmpdirs(tmp_path) == [orphan]
    assert not orphan.exists() and alive.exists()
