"""The static half of the DataWeave sandbox: a raw-text allowlist of `::` references and the host-written script.

Every way out of a DataWeave expression (qualified names, imports, `java!`) needs a literal `::`; we check each one
on the raw text, strings and comments included, so anything we cannot classify is refused (fail closed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

GUARD_MODULE_PATH = "jctl/Guard.dwl"

# Pure standard modules an expression may name with `::`, each with the members that are not pure.
ALLOWED_MODULES: dict[str, frozenset[str]] = {
    "dw::Core": frozenset({"readUrl", "read", "now", "uuid", "random", "randomInt", "log", "write"}),
    "dw::core::Strings": frozenset(),
    "dw::core::Arrays": frozenset(),
    "dw::core::Objects": frozenset(),
    "dw::core::Numbers": frozenset(),
    "dw::core::Periods": frozenset(),
    "dw::core::Binaries": frozenset(),
    "dw::core::Types": frozenset(),
    "dw::core::URL": frozenset(),
    "dw::core::Dates": frozenset({"today", "yesterday", "tomorrow"}),
    "dw::util::Values": frozenset(),
    "dw::util::Math": frozenset(),
    "dw::util::Diff": frozenset(),
    "dw::util::Tree": frozenset(),
    "dw::util::Coercions": frozenset(),
}

# Mime types `read` may parse with default (safe) reader settings; `application/dw` is code, never data.
READ_MIME_TYPES = ("application/json", "text/plain", "application/csv", "application/xml",
                   "application/x-www-form-urlencoded", "application/yaml", "text/csv", "text/xml")

RESERVED_WORDS = frozenset(
    "if else unless using as is null true false default case fun input output ns type import var and or throw do "
    "for yield enum private async not match update at".split()
)

_QUALIFIED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:::[A-Za-z_][A-Za-z0-9_]*)+")
_DOUBLE_COLON = re.compile(r"(?=::)")
_JAVA_BANG = re.compile(r"java\s*!")
# Bare names and literals refused on sight (the guard module shadows them too; this makes validate say so).
_BARE_IMPURE = re.compile(r"\b(readUrl|evalUrl|envVars?)\b|application/(?:x-)?dw\b", re.IGNORECASE)

GUARD_MODULE = f"""%dw 2.0
import fail from dw::Runtime

fun readUrl(url: Any, contentType: Any = "", readerProperties: Any = {{}}): Nothing =
  fail("forbidden: readUrl is not available in jctl expressions: expressions are pure, they cannot read files or URLs")

fun read(text: Any, contentType: Any = "application/dw", readerProperties: Any = {{}}): Any =
  if ({" or ".join(f'contentType == "{mime}"' for mime in READ_MIME_TYPES)})
    (if (isEmpty(readerProperties)) dw::Core::read(text, contentType)
     else fail("forbidden: read with reader properties is not allowed in jctl expressions"))
  else fail("forbidden: read accepts only data mime types in jctl expressions ({", ".join(READ_MIME_TYPES)})")

fun log(prefix: Any, value: Any): Any = value
fun log(value: Any): Any = value
"""


@dataclass(frozen=True)
class Forbidden:
    """A forbidden reference: what it is and where (0-based offset into the expression)."""

    name: str
    offset: int
    reason: str


def find_forbidden(expr: str) -> list[Forbidden]:
    """Every `::` in the raw text must sit inside an allowlisted pure qualified name; `java!` is never allowed."""
    problems: list[Forbidden] = []
    covered: set[int] = set()
    for match in _QUALIFIED.finditer(expr):
        parts = match.group().split("::")
        reason = _qualified_reason(parts)
        if reason is None:
            covered.update(range(match.start(), match.end()))
        else:
            problems.append(Forbidden(match.group(), match.start(), reason))
            covered.update(range(match.start(), match.end()))
    for match in _DOUBLE_COLON.finditer(expr):
        if match.start() not in covered:
            problems.append(Forbidden("::", match.start(), "a `::` that is not part of an allowed module reference"))
    for match in _JAVA_BANG.finditer(expr):
        problems.append(Forbidden("java!", match.start(), "Java interop is not available in expressions"))
    for match in _BARE_IMPURE.finditer(expr):
        if match.start() not in covered:
            what = "reads DataWeave code as data" if "/" in match.group() else "reaches files, URLs or the environment"
            problems.append(Forbidden(match.group(), match.start(), f"`{match.group()}` {what}"))
    return sorted(problems, key=lambda problem: problem.offset)


def _qualified_reason(parts: list[str]) -> str | None:
    name = "::".join(parts)
    if name in ALLOWED_MODULES:
        return None
    module, member = "::".join(parts[:-1]), parts[-1]
    denied = ALLOWED_MODULES.get(module)
    if denied is None:
        top = "::".join(parts[:2])
        if top in ("dw::Runtime", "dw::System", "dw::io", "dw::util::Timer"):
            return f"`{top}` reaches the host (files, environment, clock or nested evaluation)"
        return f"`{module}` is not one of the pure modules expressions may use"
    if member in denied:
        return f"`{name}` is impure (I/O, clock, randomness or logging); use the bare name, which jctl sandboxes"
    return None


def offset_to_line_col(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of a character offset."""
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column


def dw_string(value: str) -> str:
    """A DataWeave double-quoted string literal (escapes `$(` interpolation too)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$").replace("\n", "\\n")
    return f'"{escaped}"'


def build_script(
    expr: str,
    aliases: list[str],
    now_iso: str | None = None,
    uuid_value: str | None = None,
    random_value: float | None = None,
    compile_only: bool = False,
) -> tuple[str, int]:
    """The full script around an expression body, and how many lines precede the body."""
    header = ["%dw 2.0", "output application/json"]
    header.append("import * from jctl::Guard")
    if now_iso is not None:
        header.append(f"fun now(): DateTime = |{now_iso}|")
    if uuid_value is not None:
        header.append(f"fun uuid(): String = {dw_string(uuid_value)}")
    if random_value is not None:
        header.append(f"fun random(): Number = {random_value!r}")
        header.append(f"fun randomInt(upperBound: Number): Number = floor({random_value!r} * upperBound)")
    header += [f"var {name} = context.{name}" for name in aliases]
    header.append("---")
    if compile_only:
        header.append("if (false) (")
        return "\n".join(header) + "\n" + expr + "\n) else null", len(header)
    return "\n".join(header) + "\n" + expr, len(header)
