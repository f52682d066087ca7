"""DataWeave expressions: the host-written script around each expression, run in a worker with a capped heap.

This is the only module that imports the native engine, and only inside the worker process (`WorkerEngine`).
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any, Literal

from jctl.clock import format_rfc3339
from jctl.expr import EvalOptions, ExpressionError, dw_guard, memo, worker_failure
from jctl.expr.dw_dialect import OUTPUT_NAME, HostForm, host_form

_LOCATION = re.compile(r"\(line: ?(\d+), column: ?(\d+)\)")
_UNRESOLVED = re.compile(r"Unable to resolve reference of: `([A-Za-z_][A-Za-z0-9_]*)`")
_TIMEOUT_HINT = "(1 to N) reduce and deep recursion are the usual suspects; keep expressions small"
MAX_ALIAS_PASSES = 32


def dw_datetime(moment: datetime) -> str:
    """The DateTime literal text for the simulated clock; a naive moment is taken as UTC."""
    return format_rfc3339(moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc))


def forbidden_errors(expr: str, form: HostForm | None = None) -> list[tuple[str, int, int]]:
    """(message, line, column) for each forbidden reference found on the raw text (and on the host form's text)."""
    found = []
    problems = dw_guard.find_forbidden(expr)
    if not problems and form is not None and form.text != expr:
        problems = [replace(problem, offset=form.original_offset(problem.offset))
                    for problem in dw_guard.find_forbidden(form.text)]
    for problem in problems:
        line, column = dw_guard.offset_to_line_col(expr, problem.offset)
        found.append((f"`{problem.name}` is not allowed: {problem.reason}", line, column))
    return found


def request_for(
    expr: str, bindings: dict[str, Any], aliases: list[str], now: datetime | None,
    uuid_value: str | None, random_value: float | None, compile_only: bool = False,
) -> tuple[dict[str, Any], int]:
    script, header_lines = script_for(expr, aliases, now, uuid_value, random_value, compile_only)
    return {"script": script, "inputs": encoded_inputs(bindings)}, header_lines


def encoded_inputs(bindings: dict[str, Any]) -> dict[str, str]:
    return {name: json.dumps(value) for name, value in bindings.items()}


def script_for(
    expr: str, aliases: list[str], now: datetime | None, uuid_value: str | None, random_value: float | None,
    compile_only: bool = False,
) -> tuple[str, int]:
    """The script around an expression, and how many lines precede it."""
    # `now` is read only through its name (`dw::Core::now` is refused): an expression that never names it is not
    # given the clock, so its script is the same on every evaluation and compiles faster (0.8 -> 0.7 ms)
    named = memo.names(expr)  # likewise the seeded uuid() and random(): declared only where the text can call them
    clock = dw_datetime(now) if now and "now" in named else None
    uuid_value = uuid_value if "uuid" in named else None
    random_value = random_value if "random" in named or "randomInt" in named else None
    return dw_guard.build_script(expr, aliases, clock, uuid_value, random_value, compile_only)


def parse_error(message: str, header_lines: int) -> tuple[Literal["syntax", "runtime"], str, int | None, int | None]:
    """(kind, first line of the message, line, column relative to the expression) from an engine error text."""
    text = (message or "").strip()
    first = text.splitlines()[0] if text else "the DataWeave engine failed"
    is_compile = "\nLocation:" in text or "expected" in first and "(line" in first
    line = column = None
    located = _LOCATION.search(text.split("Location:", 1)[1]) if "Location:" in text else None
    if located is None and "Trace:" in text:
        located = _trace_location(text)
    if located is not None:
        line = int(located.group(1)) - header_lines
        column = int(located.group(2))
        if line < 1:
            line = column = None
    first = re.sub(r"\s*\(line \d+, column \d+\):?$", "", first)
    return ("syntax" if is_compile else "runtime"), first, line, column


def _trace_location(text: str) -> re.Match[str] | None:
    for trace_line in text.split("Trace:", 1)[1].splitlines():
        if " at main " in f" {trace_line.strip()} " or trace_line.strip().startswith("at anonymous"):
            return _LOCATION.search(trace_line)
    return None


def unresolved_name(message: str) -> str | None:
    found = _UNRESOLVED.search(message or "")
    return found.group(1) if found else None


class WorkerEngine:
    """The engine inside a worker: one isolate with a heap cap and a private tmpdir, the guard module served once."""

    def __init__(self, memory_mb: int, tmpdir: str):
        _create_capped_isolate(memory_mb, tmpdir)
        from dataweave import DataWeave

        modules = {dw_guard.GUARD_MODULE_PATH: dw_guard.GUARD_MODULE}
        self.engine = DataWeave(resolve_module=modules.get)
        self.engine.initialize()
        # The binding attaches a fresh isolate thread for every run and detaches it after (0.6 of a 1.3 ms run);
        # a worker evaluates on its one thread, so that thread stays attached (the binding uses a thread it is
        # given as is) until the worker exits.
        native = self.engine._native
        native.thread = native.attach_thread()
        self.engine.run("%dw 2.0\noutput application/json\nimport * from jctl::Guard\n---\n{a: [1]}")

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        inputs = {
            name: {"content": text, "mimeType": "application/json"} for name, text in request["inputs"].items()
        }
        result = self.engine.run(request["script"], inputs)
        if result.success:
            return {"ok": True, "json": result.get_string()}
        error = result.error or ""
        if not error.strip() or "Native returned empty response" in error or "OutOfMemory" in error:
            return {"ok": False, "kind": "memory", "message": "the expression ran out of memory", "restart": True}
        if "StackOverflow" in error:
            return {"ok": False, "kind": "runtime", "message": "the expression recursed too deeply", "restart": True}
        return {"ok": False, "error": error}


def _create_capped_isolate(memory_mb: int, tmpdir: str) -> None:
    """Create the process-wide isolate ourselves, with `-Xmx` and a private tmpdir, before the binding does.

    The binding always creates its isolate without arguments; it reuses an existing one, so publishing ours in
    its module globals is the whole patch.
    """
    import ctypes
    from pathlib import Path

    import dataweave.native as native

    class CreateIsolateParams(ctypes.Structure):
        _fields_ = [
            ("version", ctypes.c_int), ("reserved_address_space_size", ctypes.c_size_t),
            ("auxiliary_image_path", ctypes.c_char_p), ("auxiliary_image_reserved_space_size", ctypes.c_size_t),
            ("argc", ctypes.c_int), ("argv", ctypes.POINTER(ctypes.c_char_p)), ("pkey", ctypes.c_int),
            ("ignore_unrecognized_arguments", ctypes.c_char), ("exit_when_argument_parsing_fails", ctypes.c_char),
            ("reserved", ctypes.c_char * 64),
        ]

    path = str(Path(native.find_library()).resolve())
    lib = ctypes.CDLL(path)
    native._bind_abi(lib)
    arguments = [b"jctl-expr", f"-Xmx{memory_mb}m".encode(), f"-Djava.io.tmpdir={tmpdir}".encode()]
    argv = (ctypes.c_char_p * len(arguments))(*arguments)
    params = CreateIsolateParams(version=4, argc=len(arguments), argv=argv,
                                 ignore_unrecognized_arguments=b"\x00", exit_when_argument_parsing_fails=b"\x00")
    isolate, thread = native.GraalIsolatePointer(), native.GraalIsolateThreadPointer()
    if lib.graal_create_isolate(ctypes.byref(params), ctypes.byref(isolate), ctypes.byref(thread)) != 0:
        raise RuntimeError("cannot create the DataWeave isolate with a heap cap")
    if lib.graal_detach_thread(thread) != 0:
        raise RuntimeError("cannot detach the DataWeave bootstrap thread")
    native._lib, native._lib_path, native._isolate = lib, path, isolate


# ---- parent side ------------------------------------------------------------------------------------------------

COMPILE_TIMEOUT_S = 10.0
_NULL_BINDINGS = ("context", "payload", "platform", "error", "branches", "outcome", OUTPUT_NAME)


def compile_check(expr: str) -> list[ExpressionError]:
    from jctl.expr import pools, worker

    form, forbidden = _host_form_checked(expr)
    if forbidden:
        return [ExpressionError(message, line, column, "forbidden") for message, line, column in forbidden]
    aliases: list[str] = []
    for _ in range(MAX_ALIAS_PASSES):
        request, header_lines = request_for(form.text, dict.fromkeys(_NULL_BINDINGS), aliases, None, None, None,
                                            True)
        try:
            response = pools.pool("dataweave", 512).request(request, COMPILE_TIMEOUT_S)
        except worker.WorkerDied as died:
            return [ExpressionError(f"the DataWeave engine could not compile this expression ({died})", kind="timeout")]
        if response.get("ok"):
            return []
        kind, message, line, column = parse_error(response.get("error") or response.get("message", ""), header_lines)
        name = unresolved_name(message)
        # A bare name may be a top-level context key (bound at run time); unknown functions stay errors.
        bare = name and not _is_call(form.text, line, column, name) and name not in dw_guard.RESERVED_WORDS
        if name and bare and name not in aliases:
            aliases.append(name)
            continue
        explained = _explain(message, name, form.text, line, column)
        return [ExpressionError(explained, *form.original_position(line, column, expr), "syntax")]
    return []


def _is_call(expr: str, line: int | None, column: int | None, name: str) -> bool:
    if line is None or column is None:
        return False
    lines = expr.splitlines()
    if line > len(lines):
        return False
    rest = lines[line - 1][column - 1 + len(name):]
    return rest.lstrip().startswith("(")


def _explain(message: str, name: str | None, expr: str, line: int | None, column: int | None) -> str:
    if name in ("any", "all"):
        replacement = "some" if name == "any" else "every"
        return (f"DataWeave has no `{name}` function: use `dw::core::Arrays::{replacement}` "
                f"(e.g. `xs dw::core::Arrays::{replacement} ((x) -> ...)`)")
    if name and _is_call(expr, line, column, name):
        return f"unknown function `{name}`: {message}"
    return message


@functools.lru_cache(maxsize=1024)
def _host_form_checked(expr: str) -> tuple[HostForm, tuple[tuple[str, int, int], ...]]:
    """The host form of an expression and its forbidden references: both functions of the text alone, so a poll
    loop evaluating the same few expressions rewrites and scans each once per process."""
    form = host_form(expr)
    return form, tuple(forbidden_errors(expr, form))


def evaluate(expr: str, bindings: dict[str, Any], options: EvalOptions, uuid_value: str | None,
             random_value: float | None) -> Any:
    from jctl.expr import pools, worker
    from jctl.expr.bindings import context_aliases

    form, forbidden = _host_form_checked(expr)
    if forbidden:
        message, line, column = forbidden[0]
        raise ExpressionError(message, line, column, "forbidden")
    # An alias or binding the text never names cannot be read: declaring the alias costs the engine more than the
    # whole evaluation of a small expression (a run 2.0 -> 0.75 ms with six aliases), and an input is parsed.
    named = memo.names(form.text)
    aliases = context_aliases(bindings, named)
    usable = {OUTPUT_NAME if name == "output" else name: value for name, value in bindings.items()
              if (name == "output" or name not in dw_guard.RESERVED_WORDS)
              and ((OUTPUT_NAME if name == "output" else name) in named or name == "context" and aliases)}
    if OUTPUT_NAME in named:
        usable.setdefault(OUTPUT_NAME, None)  # `output` outside a site that binds it reads null, like `payload`
    usable, remembered = memo.narrowed("dataweave", form.text, usable)
    inputs = encoded_inputs(usable)
    key = memo.Answers.key("dataweave", form.text, ",".join(aliases), tuple(
        f"{name}={text}" for name, text in inputs.items())) if remembered else None
    known = memo.ANSWERS.get(key)
    if known is not None:
        return json.loads(known)
    script, header_lines = script_for(form.text, aliases, options.now, uuid_value, random_value)
    try:
        response = pools.pool("dataweave", options.memory_mb).request({"script": script, "inputs": inputs},
                                                                       options.timeout_s)
    except worker.WorkerDied as died:
        raise worker_failure(died, "DataWeave", options.timeout_s) from None
    if response.get("ok"):
        if response["json"] is None:
            return None
        memo.ANSWERS.put(key, response["json"])
        return json.loads(response["json"])
    if response.get("kind"):
        raise ExpressionError(response["message"], kind=response["kind"])
    kind, message, error_line, error_column = parse_error(response["error"], header_lines)
    at_line, at_column = form.original_position(error_line, error_column, expr)
    if message.startswith("forbidden: "):  # raised by the guard module
        raise ExpressionError(message.removeprefix("forbidden: "), at_line, at_column, "forbidden")
    explained = _explain(message, unresolved_name(message), form.text, error_line, error_column)
    raise ExpressionError(explained, at_line, at_column, kind)
