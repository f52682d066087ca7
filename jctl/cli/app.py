"""The `jctl` entry point. The commands people and scripts call most (`run`, `signal`, `status`, `list`, `history`,
plain `validate`, `--help`, `--version`) are answered here without loading the CLI framework, which costs more
start-up than the commands themselves; anything else, and any flag this parser does not know, goes to the full Typer app
(`jctl.cli.commands`), which owns every usage error."""

from __future__ import annotations

import os
import sys

from jctl import __version__
from jctl.errors import EXIT_INTERNAL, EXIT_OK, JctlError

TYPE_CHECKING = False  # pathlib and typing at import would cost a warm command a third of its time
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

HELP_WIDTH = 80  # click wraps help at min(terminal width, 80): from 80 columns on, the text is the same


class _Unparsed(Exception):
    """The arguments need the full parser (an unknown flag, a bad value, --help): it will explain."""


def main() -> None:
    from jctl.cli.warm_client import delegate  # the warm command server runs it, when one is listening

    code = delegate(sys.argv)
    if code is not None:
        sys.exit(code)
    run_here()


def run_here() -> None:
    # a command lives for one command: expressions go to the warm shared service instead of workers of its own
    # (jctl.expr.daemon; JCTL_EXPR_DAEMON=0 turns it off)
    os.environ.setdefault("JCTL_EXPR_DAEMON", "1")
    guarded_main(lambda: _answer_lean(sys.argv[1:]) or _run_full_app())


def _run_full_app() -> bool:
    from jctl.cli.commands import app

    app()
    return True


def guarded_main(command: Callable[[], object]) -> None:
    """Run a command; a JctlError becomes its message and exit code, a bug a one-line report (no traceback)."""
    try:
        command()
    except JctlError as error:
        from jctl.cli.output import report_error

        report_error(error)
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as error:  # a bug: say so plainly, traceback only on request
        if os.environ.get("JCTL_DEBUG"):
            raise
        sys.stderr.write(f"jctl: internal error: {type(error).__name__}: {error}\n"
                         "Run again with JCTL_DEBUG=1 for the traceback, and please report it.\n")
        sys.exit(EXIT_INTERNAL)


def _answer_lean(args: list[str]) -> bool:
    """Answer `args` here when this parser understands them completely; False hands them to the full app."""
    if "_JCTL_COMPLETE" in os.environ or "JCTL_TARGET" in os.environ or not args:
        return False  # completion, and instances elsewhere, are the full app's
    if os.environ.get("JCTL_LEAN") == "0":
        return False  # the full app answers everything: the tests compare it with this parser in a warm process
    if args == ["--version"]:
        sys.stdout.write(f"jctl {__version__}\n")
        return True
    if args == ["--help"]:
        return _print_help()
    command = _LEAN_COMMANDS.get(args[0])
    if command is None:
        return False
    try:
        command(args[1:])
    except _Unparsed:
        return False
    return True


def _print_help() -> bool:
    import shutil

    rendered = help_file()
    if shutil.get_terminal_size().columns < HELP_WIDTH or not rendered.is_file():
        return False
    sys.stdout.write(rendered.read_text(encoding="utf-8"))
    return True


class _Options:
    """`--name VALUE`, `--name=VALUE`, `-n VALUE` for declared short aliases, declared boolean flags, and positional
    arguments — nothing else (a repeated option, `-nVALUE`, `--`: the full parser)."""

    def __init__(self, args: Sequence[str], names: dict[str, str], flags: dict[str, str] | None = None):
        self.values: dict[str, str] = {}
        self.flags: set[str] = set()
        self.positional: list[str] = []
        pending = list(args)
        while pending:
            arg = pending.pop(0)
            if not arg.startswith("-") or arg == "-":
                self.positional.append(arg)
                continue
            flag, has_value, value = arg.partition("=") if arg.startswith("--") else (arg, "", "")
            if flags and flag in flags and not has_value and flags[flag] not in self.flags:
                self.flags.add(flags[flag])
                continue
            name = names.get(flag)
            if name is None or name in self.values:
                raise _Unparsed
            if not has_value:
                if not pending:
                    raise _Unparsed
                value = pending.pop(0)
            self.values[name] = value

    def choice(self, name: str, choices: tuple[str, ...], default: str) -> str:
        value = self.values.get(name, default)
        if value not in choices:
            raise _Unparsed
        return value

    def db(self) -> Path | None:
        value = self.values.get("db", os.environ.get("JCTL_DB"))
        if value == "":
            raise _Unparsed
        return _path(value) if value is not None else None

    def one_positional(self) -> str:
        if len(self.positional) != 1:
            raise _Unparsed
        return self.positional[0]

    def path(self, name: str) -> Path | None:
        value = self.values.get(name)
        if value == "":
            raise _Unparsed
        return _path(value) if value is not None else None


_COMMON = {"--format": "format", "-f": "format", "--db": "db"}
_FORMATS = ("text", "json")


def _status(args: list[str]) -> None:
    from jctl.cli.views import show_status

    options = _Options(args, _COMMON)
    show_status(options.one_positional(), options.choice("format", _FORMATS, "text"), options.db())


def _history(args: list[str]) -> None:
    from jctl.cli.views import show_history

    options = _Options(args, _COMMON)
    show_history(options.one_positional(), options.choice("format", _FORMATS, "text"), options.db())


def _list(args: list[str]) -> None:
    from jctl.cli.views import show_instances

    options = _Options(args, {**_COMMON, "--phase": "phase", "--journey": "journey", "--limit": "limit"})
    if options.positional:
        raise _Unparsed
    limit_text = options.values.get("limit", "50")
    if not limit_text.isdigit() or not 0 <= int(limit_text) < 2**63:
        raise _Unparsed
    show_instances(options.values.get("phase"), options.values.get("journey"), int(limit_text),
                   options.choice("format", _FORMATS, "text"), options.db())


_DRIVE_COMMON = {**_COMMON, "--idempotency-key": "idempotency_key"}
_RUN_OPTIONS = {**_DRIVE_COMMON, "--input": "input", "-i": "input", "--mocks": "mocks", "--config": "config",
                "--seed": "seed"}
_RUN_FLAGS = {"--detach": "detach", "--auto-advance": "auto_advance"}
_SIGNAL_OPTIONS = {**_DRIVE_COMMON, "--payload": "payload", "-p": "payload", "--step": "step"}


def _run(args: list[str]) -> None:
    """`run` on the local store without --header/--client-cert (those, and --target, are the full app's)."""
    options = _Options(args, _RUN_OPTIONS, _RUN_FLAGS)
    file, output_format, db = options.one_positional(), options.choice("format", _FORMATS, "text"), options.db()
    mocks, config = options.path("mocks"), options.path("config")
    if not file:
        raise _Unparsed
    from jctl.cli import drive  # every check that can hand over to the full app is behind: stdin is read once

    seed, key = options.values.get("seed"), options.values.get("idempotency_key")
    start = drive.read_start(options.values.get("input", "{}"), seed=seed, idempotency_key=key, headers=None,
                             client_cert=None, mocks=mocks, config=config)
    _exit(drive.start_locally(_path(file), start, detach="detach" in options.flags,
                              auto_advance="auto_advance" in options.flags, seed=seed, idempotency_key=key,
                              secrets=_env_path("JCTL_SECRETS"), plugin_config=_env_path("JCTL_PLUGIN_CONFIG"),
                              output_format=output_format, db=db))


def _signal(args: list[str]) -> None:
    """`signal` on the local store without --header/--client-cert."""
    options = _Options(args, _SIGNAL_OPTIONS)
    instance_id, output_format, db = options.one_positional(), options.choice("format", _FORMATS, "text"), options.db()
    payload = options.values.get("payload")
    if payload is None:
        raise _Unparsed
    from jctl.cli import drive

    step, key = options.values.get("step"), options.values.get("idempotency_key")
    document = drive.read_signal(instance_id, payload, step=step, idempotency_key=key)
    _exit(drive.signal_locally(instance_id, document, step=step, idempotency_key=key, headers=None, client_cert=None,
                               secrets=_env_path("JCTL_SECRETS"), plugin_config=_env_path("JCTL_PLUGIN_CONFIG"),
                               output_format=output_format, db=db))


def _validate(args: list[str]) -> None:
    """`validate [PATH]... [--format F]`, the form editors and CI call per file; other flags go to the full app."""
    from jctl.cli.validate_run import FORMATS, run_validation

    options = _Options(args, {"--format": "format", "-f": "format"})
    output_format = options.choice("format", FORMATS, "text")
    code = run_validation([_path(p) for p in options.positional] or [_path(".")], output_format)
    if code:
        sys.exit(code)


def _env_path(name: str) -> Path | None:
    """An option's environment variable as the full parser reads it: unset or empty is no value."""
    value = os.environ.get(name)
    return _path(value) if value else None


def _path(value: str) -> Path:
    from pathlib import Path

    return Path(value)


def _exit(code: int) -> None:
    if code != EXIT_OK:
        sys.exit(code)


_LEAN_COMMANDS: dict[str, Callable[[list[str]], None]] = {
    "status": _status, "history": _history, "list": _list, "run": _run, "signal": _signal, "validate": _validate,
}


def help_file() -> Path:
    return _path(__file__).with_name("help.txt")


def write_help(target: Path | None = None) -> Path:
    """Render the full app's `--help` as a terminal of 80 columns or more shows it (a subprocess: click reads
    the width from the environment)."""
    import subprocess

    script = "from jctl.cli.commands import app; app(prog_name='jctl')"
    result = subprocess.run([sys.executable, "-c", script, "--help"], capture_output=True, text=True, check=True,
                            env={**os.environ, "COLUMNS": str(HELP_WIDTH)})
    target = target or help_file()
    target.write_text(result.stdout, encoding="utf-8")
    return target


if __name__ == "__main__":
    print(write_help())
