"""Errors the engine raises for the CLI to report: invalid specs and inputs, step conflicts, unknown ids.

    FindingsError (jctl.errors)
     ├── InvalidSpec          the spec has error-severity lint diagnostics or cannot be loaded
     ├── InvalidInput         start input fails spec.input.schema (nothing was created)  -> exit 2, as a usage error
     ├── InvalidPayload       a step payload fails the step's input.schema (nothing changed)
     ├── StepConflict         signal/cancel a step that is not active or an instance that has finished (API 409)
     │    └── NotCancellable  spec.lifecycle.cancellable is false
     ├── UnknownInstance      no instance with that id or prefix
     ├── InstanceBusy         another runner holds the instance lease
     └── KeyReused            a start's idempotency key came back with another request (API 409)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from jctl.errors import EXIT_USAGE, FindingsError

if TYPE_CHECKING:
    from jctl.diagnostics import Diagnostic


class EngineError(FindingsError):
    """Base of the engine's user-facing errors."""


class InvalidSpec(EngineError):
    def __init__(self, message: str, diagnostics: list[Diagnostic] | None = None, hint: str = ""):
        self.diagnostics = list(diagnostics or [])
        details = [_located(d) for d in self.diagnostics]
        super().__init__(message, hint=hint, details=details)


def _located(diagnostic: Diagnostic) -> str:
    """`file:line:col: message [rule]`, the form `jctl validate` and editors use to jump to the spot."""
    return f"{diagnostic.file}:{diagnostic.line}:{diagnostic.column}: {diagnostic.message} [{diagnostic.rule}]"


class _Violations(EngineError):
    def __init__(self, message: str, violations: list[str], hint: str = ""):
        self.violations = violations
        super().__init__(message, hint=hint, details=violations)


class InvalidInput(_Violations):
    exit_code = EXIT_USAGE  # `run` with input it cannot start from is a usage error, like a malformed --input


class InvalidPayload(_Violations):
    pass


class StepConflict(EngineError):
    pass


class NotCancellable(StepConflict):
    pass


class UnknownInstance(EngineError):
    pass


class InstanceBusy(EngineError):
    pass


class KeyReused(EngineError):
    pass
