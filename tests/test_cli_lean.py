"""The lean entry point (jctl.cli.app) answers status, list, history, --help and --version without the CLI
framework: its answers must be the full Typer app's answers, byte for byte, and anything it does not understand
must reach the full app, which owns every usage error."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CASES, REPO, run_jctl

from jctl.cli.app import HELP_WIDTH, help_file, write_help

FULL_APP = ("from jctl.cli.app import guarded_main; from jctl.cli.commands import app; "
            "guarded_main(lambda: app(prog_name={prog!r}))")
FULL_APP_ONLY = {"JCTL_LEAN": "0"}  # `python -m jctl` with the lean parser off: the Typer app answers everything


def full_app(*args: str, cwd: Path, env: dict[str, str] | None = None, stdin: str | None = None,
             prog: str = "python -m jctl") -> subprocess.CompletedProcess[str]:
    """The same command through the Typer app alone (named as `run_jctl` invokes jctl). A hot command runs in the
    warm command server's fork, like the lean side (a cold interpreter importing the app would cost a second)."""
    if prog == "python -m jctl":
        return run_jctl(*args, cwd=cwd, stdin=stdin, env={**(env or {}), **FULL_APP_ONLY})
    environment = {key: value for key, value in os.environ.items() if key != "JCTL_DB"}
    environment.update({"PYTHONPATH": str(REPO), "NO_COLOR": "1", "COLUMNS": "200", **(env or {})})
    return subprocess.run([sys.executable, "-c", FULL_APP.format(prog=prog), *args], cwd=cwd, input=stdin,
                          capture_output=True, text=True, env=environment, timeout=120)


def test_the_full_app_only_switch_reaches_the_typer_app(tmp_path: Path) -> None:
    """What the comparisons below rely on: with JCTL_LEAN=0 an answer comes from the Typer app, not the lean parser."""
    lean = run_jctl("--version", cwd=tmp_path, env={"PYTHONPROFILEIMPORTTIME": "1"})  # the import log on stderr
    full = run_jctl("--version", cwd=tmp_path, env={"PYTHONPROFILEIMPORTTIME": "1", **FULL_APP_ONLY})
    assert "typer" in full.stderr and "typer" not in lean.stderr
    assert lean.returncode == full.returncode == 0 and lean.stdout == full.stdout


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A store with a paused instance and a failed one."""
    directory = tmp_path_factory.mktemp("lean")
    db = directory / "jctl.db"
    paused = run_jctl("run", str(CASES / "runner" / "approval.journey.yaml"), "-i", '{"orderId": "o-1"}',
                      "-f", "json", "--db", str(db), cwd=directory)
    assert paused.returncode == 0, paused.stderr
    failed = run_jctl("run", str(CASES / "runner" / "approval.journey.yaml"), "-i", '{"orderId": 7}',
                      "--db", str(db), cwd=directory)
    assert failed.returncode == 2  # refused input: nothing stored, the store keeps one instance
    return db, json.loads(paused.stdout)["journeyId"]


CASES_AGREE = [
    ("status", "{id}"), ("status", "{id}", "-f", "json"), ("status", "{id}", "--format=json"),
    ("status", "{prefix}", "--format", "text"), ("status", "nope"), ("status", "{id}", "--format", "yaml"),
    ("status", "{id}", "--bogus"), ("status",), ("status", "{id}", "extra"),
    ("list",), ("list", "--format", "json"), ("list", "--phase", "running", "-f", "json"), ("list", "--phase", "x"),
    ("list", "--limit", "0", "-f", "json"), ("list", "--limit", "-1"), ("list", "--limit", "many"),
    ("list", "--journey", "approval", "--journey", "twice"),
    ("history", "{id}", "-f", "json"), ("history", "{id}"), ("history", "missing"),
    ("--version",),
]


@pytest.mark.parametrize("args", CASES_AGREE, ids=" ".join)
def test_lean_answers_are_the_full_apps(store: tuple[Path, str], args: tuple[str, ...]) -> None:
    db, instance_id = store
    argv = [arg.format(id=instance_id, prefix=instance_id[:8]) for arg in args]
    env = {"JCTL_DB": str(db)}
    lean = run_jctl(*argv, cwd=db.parent, env=env)
    full = full_app(*argv, cwd=db.parent, env=env)
    assert (lean.returncode, lean.stdout, lean.stderr) == (full.returncode, full.stdout, full.stderr)
    assert "Traceback" not in lean.stderr


def test_help_is_the_full_apps_on_wide_terminals(tmp_path: Path) -> None:
    for columns in (str(HELP_WIDTH), "200"):
        lean = run_jctl("--help", cwd=tmp_path, env={"COLUMNS": columns, "PYTHONPROFILEIMPORTTIME": "1"})
        full = full_app("--help", cwd=tmp_path, env={"COLUMNS": columns}, prog="jctl")  # as the console script
        assert lean.returncode == full.returncode == 0
        assert lean.stdout == full.stdout
        assert "typer" not in lean.stderr  # the import log: answered without the framework


def test_narrow_terminals_get_help_wrapped_by_the_full_app(tmp_path: Path) -> None:
    lean = run_jctl("--help", cwd=tmp_path, env={"COLUMNS": "60"})
    assert lean.stdout == full_app("--help", cwd=tmp_path, env={"COLUMNS": "60"}).stdout
    assert lean.stdout != help_file().read_text(encoding="utf-8")


def test_committed_help_is_current(tmp_path: Path) -> None:
    rendered = write_help(tmp_path / "help.txt").read_text(encoding="utf-8")
    assert rendered == help_file().read_text(encoding="utf-8"), "regenerate with `python -m jctl.cli.app`"


@pytest.mark.parametrize("args", [("status", "{id}", "-f", "json"), ("list", "-f", "json"), ("history", "{id}")])
def test_hot_reads_never_load_the_framework(store: tuple[Path, str], args: tuple[str, ...]) -> None:
    db, instance_id = store
    result = run_jctl(*[arg.format(id=instance_id) for arg in args], "--db", str(db), cwd=db.parent,
                      env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert result.returncode == 0
    assert "jctl.cli.views" in result.stderr and "typer" not in result.stderr


# -- run and signal: the lean parser answers the common forms; everything else is the full app's ----------------------

APPROVAL = CASES / "runner" / "approval.journey.yaml"
SLEEPER = CASES / "runner" / "sleeper.journey.yaml"
_IDS = re.compile(r"\b[0-9a-f]{32}\b")
_TIMES = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")


def normalised(text: str, ids_from: str = "") -> str:
    """Instance ids and store-clock times differ between two fresh stores; nothing else may."""
    for instance_id in set(_IDS.findall(text + ids_from)):
        text = text.replace(instance_id, "<id>").replace(instance_id[:8], "<short>")
    return _TIMES.sub("<time>", text).replace("/lean/", "/<side>/").replace("/full/", "/<side>/")


def both(tmp_path: Path, argv: list[str], stdin: str | None = None,
         env: dict[str, str] | None = None) -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]:
    """`argv` through the lean entry point and through the Typer app, each on a fresh store ({db})."""
    results = []
    for name, runner in (("lean", run_jctl), ("full", full_app)):
        db = tmp_path / name / "jctl.db"
        db.parent.mkdir(exist_ok=True)
        args = [fill(arg, db=db, approval=APPROVAL, sleeper=SLEEPER) for arg in argv]
        results.append(runner(*args, cwd=db.parent, stdin=stdin, env=env))
    return results[0], results[1]


def fill(arg: str, **values: object) -> str:
    for name, value in values.items():
        arg = arg.replace("{" + name + "}", str(value))
    return arg


def assert_same(lean: subprocess.CompletedProcess[str], full: subprocess.CompletedProcess[str]) -> None:
    assert (lean.returncode, normalised(lean.stdout), normalised(lean.stderr, lean.stdout)) == \
        (full.returncode, normalised(full.stdout), normalised(full.stderr, full.stdout))
    assert "Traceback" not in lean.stderr


RUN_CASES = [
    ("run", "{approval}", "--db", "{db}", "-i", '{"orderId": "o-1"}'),
    ("run", "{approval}", "--db={db}", "--input", '{"orderId": "o-1"}', "-f", "json"),
    ("run", "{approval}", "--db", "{db}", "-i", '{"orderId": "o-1"}', "--detach", "--format=json"),
    ("run", "{approval}", "--db", "{db}", "-i", '{"orderId": "o-1"}', "--seed", "s", "--idempotency-key", "k"),
    ("run", "{sleeper}", "--db", "{db}", "--auto-advance", "-i", '{"delay": "PT5M"}'),
    ("run", "{approval}", "--db", "{db}", "-i", '{"orderId": 7}'),  # refused input: exit 2
    ("run", "{approval}", "--db", "{db}", "-i", "{not json"),
    ("run", "{approval}", "--db", "{db}", "-i", "-"),  # stdin
    ("run", "{approval}", "--db", "{db}", "--mocks", "missing.yaml"),
    ("run", "{approval}", "--db", "{db}", "--config", "missing.yaml"),
    ("run", "missing.journey.yaml", "--db", "{db}"),
    ("run", "--db", "{db}"),  # no FILE: the full app's usage error
    ("run", "{approval}", "{approval}", "--db", "{db}"),
    ("run", "{approval}", "--db", "{db}", "--detach", "--detach"),
    ("run", "{approval}", "--db", "{db}", "--detach=yes"),
    ("run", "{approval}", "--db", "{db}", "-f=json"),  # a short option's value is `=json`
    ("run", "{approval}", "--db", "{db}", "-fjson", "-i", '{"orderId": "o-1"}'),
    ("run", "{approval}", "--db", "{db}", "--format", "yaml"),
    ("run", "{approval}", "--db", "{db}", "-i"),
    ("run", "{approval}", "--db", "{db}", "--bogus"),
    ("run", "{approval}", "--db", "{db}", "-i", '{"orderId": "o-1"}', "--", "extra"),
    ("run", "--help"),
]


@pytest.mark.parametrize("args", RUN_CASES, ids=" ".join)
def test_lean_run_is_the_full_apps(tmp_path: Path, args: tuple[str, ...]) -> None:
    lean, full = both(tmp_path, list(args), stdin='{"orderId": "from-stdin"}')
    assert_same(lean, full)


SIGNAL_CASES = [
    ("signal", "{id}", "--payload", '{"approved": true, "by": "ann"}'),
    ("signal", "{short}", "-p", '{"approved": false}', "-f", "json"),
    ("signal", "{id}", "-p", '{"approved": true}', "--step", "askApproval", "--idempotency-key", "k", "--format=json"),
    ("signal", "{id}", "-p", "-"),  # stdin
    ("signal", "{id}", "-p", '{"approved": "yes"}'),  # the step's schema refuses it: nothing changes
    ("signal", "{id}", "-p", '{"approved": true}', "--step", "nowhere"),
    ("signal", "{id}", "-p", "[1,"),
    ("signal", "nope", "-p", "{}"),
    ("signal", "{id}"),  # --payload is required: the full app says so
    ("signal", "{id}", "-p", "{}", "-p", "{}"),
    ("signal", "{id}", "-p={}"),
    ("signal", "{id}", "-p", "{}", "--format", "yaml"),
    ("signal", "{id}", "extra", "-p", "{}"),
    ("signal", "-p", "{}"),
    ("signal", "{id}", "-p", "{}", "--header", "Authorization=Bearer x"),  # inbound requests: the full app
    ("signal", "--help"),
]


@pytest.mark.parametrize("args", SIGNAL_CASES, ids=" ".join)
def test_lean_signal_is_the_full_apps(tmp_path: Path, args: tuple[str, ...]) -> None:
    """Each side signals its own paused instance of the same journey, so successful signals compare too."""
    answers = []
    for runner in ("lean", "full"):
        db = tmp_path / runner / "jctl.db"
        db.parent.mkdir()
        started = run_jctl("run", str(APPROVAL), "-i", '{"orderId": "o-1"}', "-f", "json", "--db", str(db),
                           cwd=db.parent)
        assert started.returncode == 0, started.stderr
        instance_id = json.loads(started.stdout)["journeyId"]
        argv = [fill(arg, id=instance_id, short=instance_id[:8]) for arg in args]
        stdin = '{"approved": true, "by": "stdin"}'
        env = {"JCTL_DB": str(db)}
        answers.append((run_jctl if runner == "lean" else full_app)(*argv, cwd=db.parent, stdin=stdin, env=env))
        answers.append(run_jctl("history", instance_id, "-f", "json", cwd=db.parent, env=env))
    lean, lean_history, full, full_history = answers
    assert_same(lean, full)
    assert normalised(lean_history.stdout) == normalised(full_history.stdout)  # the same change, or none


def test_run_and_signal_honour_the_secrets_variable_like_the_full_app(tmp_path: Path) -> None:
    lean, full = both(tmp_path, ["run", "{approval}", "--db", "{db}", "-i", '{"orderId": "o-1"}'],
                      env={"JCTL_SECRETS": str(tmp_path / "no-such-secrets.yaml")})
    assert lean.returncode == 2 and "secrets" in lean.stderr
    assert_same(lean, full)


RULE_CASES = CASES / "rules"
VALIDATE_AGREE = [
    ("validate", "{rules}/misplaced-field.journey.yaml"), ("validate", "-f", "json", "{rules}/clean.journey.yaml"),
    ("validate", "--format=sarif", "{rules}/legacy-next.journey.yaml"),
    ("validate", "{rules}/unknown-state.journey.yaml", "--format", "github"),
    ("validate", "--format", "human", "{rules}"), ("validate", "nope.journey.yaml"), ("validate", "-f", "yaml", "x"),
    ("validate", "--strict", "{rules}/choice-default.journey.yaml"), ("validate", "--bogus"),
]


@pytest.mark.parametrize("args", VALIDATE_AGREE, ids=" ".join)
def test_lean_validate_answers_are_the_full_apps(tmp_path: Path, args: tuple[str, ...]) -> None:
    argv = [arg.format(rules=RULE_CASES) for arg in args]
    lean = run_jctl(*argv, cwd=tmp_path)
    full = full_app(*argv, cwd=tmp_path)
    assert (lean.returncode, lean.stdout, lean.stderr) == (full.returncode, full.stdout, full.stderr)
    assert "Traceback" not in lean.stderr


def test_plain_validate_never_loads_the_framework(tmp_path: Path) -> None:
    result = run_jctl("validate", "-f", "json", str(RULE_CASES / "clean.journey.yaml"), cwd=tmp_path,
                      env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert result.returncode == 0
    assert "jctl.lint" in result.stderr and "typer" not in result.stderr and "rich" not in result.stderr


def test_lean_validate_knows_every_format_of_the_full_command() -> None:
    from jctl.cli.validate import OutputFormat
    from jctl.cli.validate_run import FORMATS

    assert set(FORMATS) == {member.value for member in OutputFormat}
