"""DataWeave dialect slips: syntax real specs borrow from other languages (`then`, `default:`, `any`/`all`,
reserved-word selectors), found on the expression text with strings and comments masked out.

Pure text analysis, no engine: `jctl validate` reports the slips, `jctl validate --fix` applies the replacements.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

_SELECTOR_WORDS = (
    "type|output|input|default|import|var|fun|ns|do|if|else|match|case|as|is|and|or|not|null|true|false|using|"
    "unless|update|for|yield|enum|private|async|throw"
)
_RESERVED_SELECTOR = re.compile(rf"(?<=[A-Za-z0-9_\)\]])\.({_SELECTOR_WORDS})\b")
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
    finders = (_then_slips, _default_colon_slips, _reserved_selector_slips, _any_all_slips)
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


def _reserved_selector_slips(mask: str) -> Iterator[Slip]:
    for match in _RESERVED_SELECTOR.finditer(mask):
        word = match.group(1)
        yield Slip(match.start(), match.end(), f'."{word}"',
                   f"`.{word}` selects a field named with a DataWeave reserved word", f'quote the name: `."{word}"`')


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
