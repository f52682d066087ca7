"""jq expressions (the `jq` binding): the input document is the bindings object, so paths read `.context.id`.

A prelude shadows the impure builtins (`now` → simulated clock, `env`, `debug`, `stderr`, `halt_error`...);
`$ENV`, `import` and `include` are refused on the raw text. Evaluation runs in the worker (jq loops cannot be
interrupted in-process).
"""

from __future__ import annotations

import functools
import re
from typing import Any

from jctl.expr import ErrorKind, ExpressionError
from jctl.expr.dw_guard import offset_to_line_col

PRELUDE = (
    ".[0] as $__jctl_now | .[1] | def now: $__jctl_now; def env: {}; "
    "def debug: .; def debug(m): .; def stderr: .; def input_filename: null; "
    "def halt_error: error(\"halt_error is not allowed in jctl expressions\"); def halt_error(c): halt_error; "
    "def get_search_list: []; def input: error(\"input is not available\"); def inputs: empty;\n"
)
_FORBIDDEN = re.compile(r"\$ENV\b|\$__jctl_now\b|\b(?:import|include|modulemeta)\b")
_LOCATION = re.compile(r"line (\d+), column (\d+)")


def forbidden(expr: str) -> list[ExpressionError]:
    problems = []
    for match in _FORBIDDEN.finditer(expr):
        line, column = offset_to_line_col(expr, match.start())
        problems.append(ExpressionError(
            f"`{match.group()}` is not allowed: jq expressions cannot read the environment or load modules",
            line, column, "forbidden"))
    return problems


def _error_from(error: Exception, kind: ErrorKind) -> ExpressionError:
    text = str(error)
    located = _LOCATION.search(text)
    line = column = None
    if located and int(located.group(1)) > 1:
        line, column = int(located.group(1)) - 1, int(located.group(2))
    first = text.splitlines()[0] if text else "jq failed"
    first = re.sub(r" at <top-level>, line \d+, column \d+:?$", "", first).removeprefix("jq: error: ")
    return ExpressionError(f"jq: {first}", line, column, kind)


@functools.lru_cache(maxsize=256)
def _compiled(expr: str) -> Any:
    """Compiled programs are reused: the clock comes in with the input (`[now, document]`), not as an argument."""
    import jq

    return jq.compile(PRELUDE + expr)


def compile_check(expr: str) -> list[ExpressionError]:
    problems = forbidden(expr)
    if problems:
        return problems
    try:
        _compiled(expr)
    except ValueError as error:
        return [_error_from(error, "syntax")]
    return []


def evaluate_document(expr: str, document: Any, now_ms: int) -> Any:
    """All outputs of the program: one output is the value, none is null, several are a list."""
    outputs = _compiled(expr).input_value([now_ms / 1000, document]).all()
    if not outputs:
        return None
    return outputs[0] if len(outputs) == 1 else outputs


def evaluate_request(request: dict[str, Any]) -> Any:
    """Evaluate a worker request that passed `compile_check`; failures raise ExpressionError."""
    try:
        return evaluate_document(request["expr"], request["document"], request["now_ms"])
    except ValueError as error:
        raise _error_from(error, "runtime") from None
