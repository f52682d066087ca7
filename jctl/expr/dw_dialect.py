"""DataWeave dialect slips: syntax real specs borrow from other languages (`then`, `default:`, `any`/`all`),
found on the expression text with strings and comments masked out.

Pure text analysis, no engine: `jctl validate` reports the slips, `jctl validate --fix` applies the replacements.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from jctl.expr.dw_guard import offset_to_line_col

_SELECTOR_WORDS = (
    "type|output|input|default|import|var|fun|ns|do|if|else|match|case|as|is|and|or|not|null|true|false|using|"
    "unless|update|for|yield|enum|private|async|throw"
)
_RESERVED_SELECTOR = re.compile(rf"(?<=[A-Za-z0-9_\)\]}}$.*])\.({_SELECTOR_WORDS})\b")
_DEFAULT_COLON = re.compile(r"\bdefault\s*:(?!:)\s*")
_ANY_ALL = re.compile(r"(?<![.\w:])\b(any|all)\b(?=\s*\()")
_IF_OPEN = re.compile(r"\bif\s*\(")
_THEN = re.compile(r"\s*\bthen\b\s*")


@dataclass(frozen=True)
class Slip:
    """A DataWeave dialect slip at [start, end) of the expression, with its mechanical replacement (if any)."""

    start: int
    end: int
    replacement: str | None
    message: str
    hint: str


def code_mask(expr: str) -> str:
    """The expression with string contents and comments blanked (same length), so patterns only see code."""
    out = list(expr)
    index, size = 0, len(expr)
    while index < size:
        char = expr[index]
        if char in "\"'`":
            end = index + 1
            while end < size and expr[end] != char:
                end += 2 if expr[end] == "\\" else 1
            for position in range(index + 1, min(end, size)):
                if out[position] != "\n":
                    out[position] = " "
            index = end + 1
        elif expr.startswith("//", index):
            end = expr.find("\n", index)
            end = size if end < 0 else end
            out[index:end] = " " * (end - index)
            index = end
        elif expr.startswith("/*", index):
            end = expr.find("*/", index + 2)
            end = size if end < 0 else end + 2
            out[index:end] = [c if c == "\n" else " " for c in expr[index:end]]
            index = end
        else:
            index += 1
    return "".join(out)


def _matching_paren(mask: str, open_index: int) -> int | None:
    depth = 0
    for index in range(open_index, len(mask)):
        if mask[index] == "(":
            depth += 1
        elif mask[index] == ")":
            depth -= 1
            if depth == 0:
                return index
    return None


def find_slips(expr: str) -> list[Slip]:
    """The DataWeave dialect slips in an expression body, in text order."""
    mask = code_mask(expr)
    finders = (_then_slips, _default_colon_slips, _any_all_slips)
    return sorted((slip for finder in finders for slip in finder(mask)), key=lambda slip: slip.start)


def _then_slips(mask: str) -> Iterator[Slip]:
    for match in _IF_OPEN.finditer(mask):
        close = _matching_paren(mask, match.end() - 1)
        then = _THEN.match(mask, close + 1) if close is not None else None
        if then is not None:
            then_start = mask.index("then", then.start())
            yield Slip(then_start, then.end(), "", "DataWeave has no `then`: write `if (c) a else b`", "remove `then`")


def _default_colon_slips(mask: str) -> Iterator[Slip]:
    for match in _DEFAULT_COLON.finditer(mask):
        before = mask[: match.start()].rstrip()
        if not before or before[-1] in "{,":  # an object key: quoting it is a human decision, not a rewrite
            yield Slip(match.start(), match.start() + len("default"), None,
                       "`default` is a reserved word and cannot be an object key", "quote it: `\"default\": ...`")
        else:
            yield Slip(match.start(), match.end(), "default ",
                       "`default: x` is not DataWeave: the fallback operator is `value default x`",
                       "remove the colon: `default 0`")


def _any_all_slips(mask: str) -> Iterator[Slip]:
    for match in _ANY_ALL.finditer(mask):
        word = match.group(1)
        function = "some" if word == "any" else "every"
        yield Slip(match.start(), match.end(), f"dw::core::Arrays::{function}", f"DataWeave has no `{word}` function",
                   f"use `dw::core::Arrays::{function}` (imports are not allowed in expression bodies)")


def apply_slips(expr: str, slips: list[Slip]) -> str:
    """The expression with every slip that has a mechanical replacement rewritten."""
    for slip in sorted(slips, key=lambda slip: slip.start, reverse=True):
        if slip.replacement is not None:
            expr = expr[: slip.start] + slip.replacement + expr[slip.end :]
    return expr


# ---- the host form: what the host writes into the script for a body the reference documents as valid ------------

OUTPUT_NAME = "jctlOutput"
"""The script variable that carries the `output` binding (`output` is a DataWeave reserved word)."""

_BARE_OUTPUT = re.compile(r"(?<![\w.:$@\"'`])output\b(?!\s*:(?!:))")
_KEY_WORDS = _SELECTOR_WORDS.replace("default|", "")  # `default:` stays a reported slip (it is usually `default x`)
_RESERVED_KEY = re.compile(rf"(?<=[{{,])(\s*)({_KEY_WORDS})(?=\s*:(?!:))")


@dataclass(frozen=True)
class HostForm:
    """An expression body as the host runs it, with the edits made so positions map back to what the user wrote.

    The reference documents `output.overallStatus` (§2.5 alsoFor), `context.sub.output` (§5.8) and `error.type`
    (§5.6) and Problem Details objects `{type: ...}` (§14.1); DataWeave reserves `output` and `type`. The host
    quotes reserved-word selectors and object keys (`x.type` → `x."type"`, `{type: 1}` → `{"type": 1}`) and reads
    the bare `output` binding through `jctlOutput`. The rewrite only adds quotes and that
    one name, so it cannot reach anything the raw text could not (the sandbox checks both texts).
    """

    text: str
    edits: tuple[tuple[int, int, int], ...]  # (original start, original end, replacement length), in text order

    def original_offset(self, offset: int) -> int:
        """The offset in the user's text of an offset in the host text (an edit maps to its start)."""
        shift = 0
        for start, end, length in self.edits:
            new_start = start + shift
            if offset < new_start:
                break
            if offset < new_start + length:
                return start
            shift += length - (end - start)
        return offset - shift

    def original_position(self, line: int | None, column: int | None, original: str) -> tuple[int | None, int | None]:
        """1-based (line, column) in the user's text of a 1-based position in the host text."""
        if line is None or column is None or not self.edits:
            return line, column
        lines = self.text.split("\n")
        if line > len(lines):
            return line, column
        offset = sum(len(text) + 1 for text in lines[: line - 1]) + column - 1
        mapped = self.original_offset(offset)
        return offset_to_line_col(original, mapped)


def host_form(expr: str) -> HostForm:
    """The body the host runs for `expr` (both `jctl validate` and the runner use this one rewrite)."""
    mask = code_mask(expr)
    edits: list[tuple[int, int, str]] = []
    for match in _RESERVED_SELECTOR.finditer(mask):
        edits.append((match.start(1), match.end(1), f'"{match.group(1)}"'))
    for match in _RESERVED_KEY.finditer(mask):
        edits.append((match.start(2), match.end(2), f'"{match.group(2)}"'))
    keys = {start for start, _, _ in edits}
    for match in _BARE_OUTPUT.finditer(mask):
        if match.start() not in keys:
            edits.append((match.start(), match.end(), OUTPUT_NAME))
    edits.sort()
    text, cursor, parts = expr, 0, []
    for start, end, replacement in edits:
        parts += [text[cursor:start], replacement]
        cursor = end
    parts.append(text[cursor:])
    return HostForm("".join(parts), tuple((start, end, len(replacement)) for start, end, replacement in edits))
