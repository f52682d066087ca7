"""Expressions compiled by their engines: syntax, forbidden (impure) constructs, non-boolean predicates, and the
DataWeave dialect slips real specs make, each pointed at the line and column inside the expression."""

from __future__ import annotations

import re
from collections.abc import Iterator

from jctl.checks import SpecFile, check
from jctl.diagnostics import DocPath, Finding
from jctl.expr.dw_dialect import code_mask, find_slips
from jctl.expr.dw_guard import offset_to_line_col
from jctl.spec.model import iter_expression_sites
from jctl.spec.scalars import finding_offset

_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][+-]?\d+)?\Z")
_STRING = re.compile(r"""("([^"\\]|\\.)*"|'([^'\\]|\\.)*')\Z""", re.S)


def _finding(spec: SpecFile, path: DocPath, message: str, hint: str, line: int | None, column: int | None,
             rule: str) -> Finding:
    expr_path = path + ("expr",)
    pos = spec.document.source_map.positions.get(expr_path)
    offset = None
    if pos is not None and line is not None and column is not None:
        offset = finding_offset(pos, line, column, spec.document.text)
    return Finding(expr_path, message, hint, rule=rule, offset=offset)


@check(
    "expression-syntax", "error", "An expression does not compile in its engine (DataWeave, JSONata, jq, JOLT).",
    also=(
        ("expression-forbidden", "error",
         "An expression reaches outside itself (files, URLs, environment, system properties, nested evaluation)."),
        ("expression-dialect", "error",
         "A DataWeave expression uses syntax from another language (`then`, `default:`, `any`/`all`)."),
        ("predicate-not-boolean", "error", "A predicate is a literal that can never be a boolean."),
    ),
    needs_expressions=True,
)
def check_expressions(spec: SpecFile) -> Iterator[Finding]:
    from jctl.expr import SUPPORTED_LANGS, compile_check

    for path, site in iter_expression_sites(spec.data):
        lang, expr = site["lang"], site["expr"]
        if lang not in SUPPORTED_LANGS:
            continue  # unknown engine ids are reported by the values checks
        if path and path[-1] == "predicate":
            literal = _literal_kind(lang, expr)
            if literal is not None:
                yield _finding(spec, path, f"this predicate is {literal}, never a boolean",
                               "a predicate must evaluate to true or false, e.g. `context.status == \"DONE\"`",
                               1, 1, "predicate-not-boolean")
                continue
        slips = find_slips(expr) if lang == "dataweave" else []
        for slip in slips:
            line, column = offset_to_line_col(expr, slip.start)
            fixable = " (`jctl validate --fix` rewrites it)" if slip.replacement is not None else ""
            yield _finding(spec, path, slip.message, slip.hint + fixable, line, column, "expression-dialect")
        for error in compile_check(lang, expr):
            if error.kind == "forbidden":
                yield _finding(spec, path, error.message, "expressions must be pure: they compute values from "
                               "their bindings only; do I/O in task states", error.line, error.column,
                               "expression-forbidden")
            elif not slips:
                yield _finding(spec, path, f"{lang} expression does not compile: {error.message}",
                               _syntax_hint(lang), error.line, error.column, "expression-syntax")


def _syntax_hint(lang: str) -> str:
    return {
        "dataweave": "the expression is a DataWeave 2.x body (no header, no `---`); bindings: context, payload, "
                     "platform, error and bare top-level context keys",
        "jsonata": "JSONata reads the bindings object: `context.id`, `payload.x`",
        "jq": "jq's input is the bindings object: write `.context.id`",
        "jolt": "a JOLT spec is a JSON list of {operation, spec}; supported operations: shift, default, remove",
    }.get(lang, "")


def _literal_kind(lang: str, expr: str) -> str | None:
    text = expr.strip()
    if lang == "jolt":
        return "a JOLT transform (an object)"
    if not text:
        return "empty"
    if _NUMBER.match(text):
        return f"the number {text}"
    if _STRING.match(text) and (lang != "jq" or text.startswith('"')):
        return f"the string {text}"
    if text == "null":
        return "null"
    if (text.startswith("{") and text.endswith("}")) and _balanced_top(text):
        return "an object"
    if (text.startswith("[") and text.endswith("]")) and _balanced_top(text) and lang != "jsonata":
        return "an array"
    return None


def _balanced_top(text: str) -> bool:
    """True when the first bracket closes at the very end (so `{...} == {...}` is not taken for a literal)."""
    mask = code_mask(text)
    depth = 0
    for index, char in enumerate(mask):
        if char in "{[(":
            depth += 1
        elif char in "}])":
            depth -= 1
            if depth == 0:
                return index == len(mask) - 1
    return False
