"""Exit codes and the exception tree every command maps to them.

    JctlError                 a problem to tell the user about, with an exit code
     ├── UsageError           bad flags, unreadable or malformed input files/payloads  -> exit 2
     ├── FindingsError        the input was read but has problems (invalid spec, payload
     │                        failing a step schema, wrong step, unknown id)           -> exit 1
     └── InternalError        a bug in jctl; printed without a traceback unless JCTL_DEBUG=1 -> exit 3
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3


class JctlError(Exception):
    exit_code = EXIT_FINDINGS

    def __init__(self, message: str, hint: str = "", details: list[str] | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details = details or []


class UsageError(JctlError):
    exit_code = EXIT_USAGE


class FindingsError(JctlError):
    exit_code = EXIT_FINDINGS


class InternalError(JctlError):
    exit_code = EXIT_INTERNAL
