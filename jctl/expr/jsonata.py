"""JSONata expressions (jsonata-python): compile checks in-process, evaluation with the engine's own time box.

`$now()`/`$millis()` return the simulated clock, `$random()` is seeded when a seed is given, `$eval` is refused
(it would start a fresh, unbounded evaluator).
"""

from __future__ import annotations

import functools
import json
import re
from datetime import datetime, timezone
from typing import Any

MAX_DEPTH = 500
_EVAL = re.compile(r"\$eval\s*\(")


def _location(expr: str, position: Any) -> tuple[int | None, int | None]:
    from jctl.expr.dw_guard import offset_to_line_col

    if not isinstance(position, int) or position < 0:
        return None, None
    return offset_to_line_col(expr, max(0, min(position, len(expr)) - 1))


def compile_check(expr: str) -> list[Any]:
    from jctl.expr import ExpressionError

    found = _EVAL.search(expr)
    if found:
        line, column = _location(expr, found.start() + 1)
        return [ExpressionError("`$eval` is not allowed: it evaluates text as a new, unbounded expression",
                                line, column, "forbidden")]
    from jsonata import Jsonata
    from jsonata.jexception import JException

    try:
        Jsonata(expr)
    except JException as error:
        line, column = _location(expr, getattr(error, "location", None))
        return [ExpressionError(f"JSONata: {error}", line, column, "syntax")]
    return []


@functools.lru_cache(maxsize=256)
def _compiled(expr: str) -> Any:
    from jsonata import Jsonata

    return Jsonata(expr)


def evaluate_document(expr: str, document: Any, now_ms: int, seed: str | None, timeout_ms: int) -> Any:
    """Evaluate against the bindings document (runs inside the worker; also used in-process by the benchmark)."""
    from jsonata import Jsonata

    from jctl.expr.bindings import seeded_random, seeded_uuid

    compiled = _compiled(expr)
    frame = compiled.create_frame(compiled.environment)
    frame.set_runtime_bounds(timeout_ms, MAX_DEPTH)
    counter = iter(range(1 << 62))
    moment = datetime.fromtimestamp(now_ms / 1000, tz=timezone.utc)

    def now(picture: Any = None, zone: Any = None) -> str:
        from jsonata.functions import Functions

        if picture is None and zone is None:
            return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
        return Functions.datetime_from_millis(now_ms, picture, zone)

    def refuse(*_: Any) -> Any:
        raise ValueError("$eval is not allowed in jctl expressions")

    frame.bind("now", Jsonata.JLambda(now))
    frame.bind("millis", Jsonata.JLambda(lambda: now_ms))
    frame.bind("eval", Jsonata.JLambda(refuse))
    if seed is not None:
        frame.bind("random", Jsonata.JLambda(lambda: seeded_random(f"{seed}\x00{next(counter)}")))
        frame.bind("uuid", Jsonata.JLambda(lambda: seeded_uuid(seed, next(counter))))
    else:
        import uuid

        frame.bind("uuid", Jsonata.JLambda(lambda: str(uuid.uuid4())))
    return compiled.evaluate(document, frame)


def handle_request(request: dict[str, Any]) -> dict[str, Any]:
    from jsonata.jexception import JException

    expr = request["expr"]
    problems = compile_check(expr)
    if problems:
        first = problems[0]
        return {"ok": False, "kind": first.kind, "message": first.message, "line": first.line, "column": first.column}
    try:
        value = evaluate_document(expr, request["document"], request["now_ms"], request["seed"], request["timeout_ms"])
    except JException as error:
        kind = "timeout" if getattr(error, "error", "") == "D1012" else "runtime"
        line, column = _location(expr, getattr(error, "location", None))
        return {"ok": False, "kind": kind, "message": f"JSONata: {error}", "line": line, "column": column}
    except RecursionError:
        return {"ok": False, "kind": "runtime", "message": "JSONata: the expression recursed too deeply"}
    except (ValueError, TypeError, ArithmeticError) as error:
        return {"ok": False, "kind": "runtime", "message": f"JSONata: {error}"}
    return {"ok": True, "json": json.dumps(value)}
