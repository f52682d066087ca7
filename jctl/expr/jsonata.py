"""JSONata expressions (jsonata-python): compile checks in-process, evaluation with the engine's own time box.

`$now()`/`$millis()` return the simulated clock, `$random()` is seeded when a seed is given, `$eval` is refused
(it would start a fresh, unbounded evaluator).
"""

from __future__ import annotations

import functools
import re
from datetime import datetime, timezone
from typing import Any

from jctl.clock import format_rfc3339
from jctl.expr import ErrorKind, ExpressionError
from jctl.expr.dw_guard import offset_to_line_col

MAX_DEPTH = 500
_TIME_LIMIT_CODE = "D1012"  # jsonata-python's error code when the runtime bounds' time limit is exceeded
_EVAL = re.compile(r"\$eval\s*\(")


def _location(expr: str, position: Any) -> tuple[int | None, int | None]:
    if not isinstance(position, int) or position < 0:
        return None, None
    return offset_to_line_col(expr, max(0, min(position, len(expr)) - 1))


def compile_check(expr: str) -> list[ExpressionError]:
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

    compiled = Jsonata(expr)
    # The engine walks the whole input before every evaluation to refuse values JSON cannot hold; the document is
    # always decoded JSON (the worker's request), so the walk never refuses anything: 14% of a small mapper's run.
    compiled.set_validate_input(False)
    return compiled


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
            return format_rfc3339(moment)
        formatted: str = Functions.datetime_from_millis(now_ms, picture, zone)
        return formatted

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


def evaluate_request(request: dict[str, Any]) -> Any:
    """Evaluate a worker request that passed `compile_check`; failures raise ExpressionError."""
    from jsonata.jexception import JException

    expr = request["expr"]
    try:
        return evaluate_document(expr, request["document"], request["now_ms"], request["seed"], request["timeout_ms"])
    except JException as error:
        kind: ErrorKind = "timeout" if getattr(error, "error", "") == _TIME_LIMIT_CODE else "runtime"
        line, column = _location(expr, getattr(error, "location", None))
        raise ExpressionError(f"JSONata: {error}", line, column, kind) from None
    except RecursionError:
        raise ExpressionError("JSONata: the expression recursed too deeply") from None
    except (ValueError, TypeError, ArithmeticError) as error:
        raise ExpressionError(f"JSONata: {error}") from None
