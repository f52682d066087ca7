"""Expression engines behind one small interface: compile checks for `jctl validate`, evaluation for the runner.

DataWeave, JSONata, jq and JOLT evaluate in isolated worker processes (deadline, memory cap).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from jctl.expr.worker import WorkerDied

SUPPORTED_LANGS = ("dataweave", "jsonata", "jq", "jolt")
ErrorKind = Literal["syntax", "forbidden", "runtime", "timeout", "memory"]


class ExpressionError(Exception):
    """An expression failed; `line`/`column` are 1-based and relative to the expression text when known."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None,
                 kind: ErrorKind = "runtime"):
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column
        self.kind = kind

    def __repr__(self) -> str:
        return f"ExpressionError({self.kind}: {self.message!r} at {self.line}:{self.column})"

    def as_response(self) -> dict[str, Any]:
        """The worker protocol's failure reply; `from_response` rebuilds the error on the parent side."""
        return {"ok": False, "kind": self.kind, "message": self.message, "line": self.line, "column": self.column}

    @classmethod
    def from_response(cls, response: dict[str, Any]) -> ExpressionError:
        return cls(response["message"], response.get("line"), response.get("column"), response["kind"])


def worker_failure(died: WorkerDied, engine: str, timeout_s: float) -> ExpressionError:
    """The error an evaluation reports when its worker was killed for its deadline or died on its own."""
    if died.timed_out:
        return ExpressionError(f"the expression did not finish within {timeout_s:g} s", kind="timeout")
    return ExpressionError(f"the {engine} worker died (likely out of memory)", kind="memory")


@dataclass
class EvalOptions:
    """`now` is the simulated clock (UTC aware); `uuid_seed` makes uuid()/random() deterministic per evaluation."""

    now: datetime
    uuid_seed: str | None = None
    timeout_s: float = 5.0
    memory_mb: int = 512


def _unknown(lang: str) -> ExpressionError:
    return ExpressionError(
        f"unknown expression language {lang!r}; supported: {', '.join(SUPPORTED_LANGS)}", kind="syntax")


def compile_check(lang: str, expr: str) -> list[ExpressionError]:
    """Syntax and forbidden-construct errors of an expression; [] when it compiles."""
    key = (lang, expr)
    if key not in _CHECKED:
        errors = tuple(_compile_check(lang, expr))
        if any(error.kind in ("timeout", "memory") for error in errors):
            return list(errors)  # a dying worker is not a property of the expression: do not remember it
        if len(_CHECKED) >= 4096:
            _CHECKED.clear()
        _CHECKED[key] = errors
    return list(_CHECKED[key])


_CHECKED: dict[tuple[str, str], tuple[ExpressionError, ...]] = {}


def _compile_check(lang: str, expr: str) -> list[ExpressionError]:
    if lang == "dataweave":
        from jctl.expr import dataweave

        return dataweave.compile_check(expr)
    if lang == "jsonata":
        from jctl.expr import jsonata

        return jsonata.compile_check(expr)
    if lang == "jq":
        from jctl.expr import jq

        return jq.compile_check(expr)
    if lang == "jolt":
        from jctl.expr import jolt

        return jolt.compile_check(expr)
    return [_unknown(lang)]


def evaluate(lang: str, expr: str, bindings: dict[str, Any], options: EvalOptions) -> Any:
    """Evaluate to a JSON value, or raise ExpressionError."""
    import json

    value = _evaluate(lang, expr, bindings, options)
    try:
        json.dumps(value, allow_nan=False, ensure_ascii=False).encode("utf-8")
    except ValueError:  # e.g. DataWeave's 1e400: stored, it would make every later `--format json` invalid
        raise ExpressionError("the result contains NaN, Infinity or a lone surrogate, which JSON text cannot hold",
                              kind="runtime") from None
    return value


def _evaluate(lang: str, expr: str, bindings: dict[str, Any], options: EvalOptions) -> Any:
    from jctl.expr import bindings as binding_rules

    uuid_value = binding_rules.seeded_uuid(options.uuid_seed, 0) if options.uuid_seed is not None else None
    random_value = binding_rules.seeded_random(options.uuid_seed) if options.uuid_seed is not None else None
    if lang == "dataweave":
        from jctl.expr import dataweave

        return dataweave.evaluate(expr, bindings, options, uuid_value, random_value)
    if lang in ("jsonata", "jq", "jolt"):
        import json

        from jctl.expr import memo, pools, worker

        remembered = False
        if lang == "jsonata":  # the other two read their document in ways the narrowing does not follow
            bindings, remembered = memo.narrowed(lang, expr, bindings)
        document = binding_rules.with_aliases(bindings)
        try:  # encoded once: the memo key and the request share the text
            document_json = json.dumps(document, separators=(",", ":"), allow_nan=False)
        except ValueError:  # NaN or Infinity: sent as before, never remembered
            document_json, remembered = json.dumps(document, separators=(",", ":")), False
        key = memo.Answers.key(lang, expr, None, document_json) if remembered else None
        known = memo.ANSWERS.get(key)
        if known is not None:
            return json.loads(known)
        request = {
            "lang": lang, "expr": expr, "document_json": document_json,
            "now_ms": int(options.now.timestamp() * 1000), "seed": options.uuid_seed,
            "timeout_ms": int(options.timeout_s * 1000),
        }
        try:
            response = pools.pool("python", options.memory_mb).request(request, options.timeout_s + 0.5)
        except worker.WorkerDied as died:
            raise worker_failure(died, lang, options.timeout_s) from None
        if response.get("ok"):
            memo.ANSWERS.put(key, response["json"])
            return json.loads(response["json"])
        raise ExpressionError.from_response(response)
    raise _unknown(lang)


def shutdown() -> None:
    """Stop the worker processes (also registered with atexit)."""
    from jctl.expr import pools

    pools.shutdown()
