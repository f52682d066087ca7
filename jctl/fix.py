"""`jctl validate --fix`: rewrite mechanical DataWeave slips and the legacy wait/webhook `default:` in place.

Edits are made on the file text by position (comments and formatting survive); a fix is kept only if the file
still loads afterwards and every edited span held exactly the text we expected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jctl.spec.loader import LoadError, NodePos, parse_document, read_text

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


@dataclass
class FixResult:
    changed: bool
    fixes: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


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
    slips: list[Slip] = []
    for match in _IF_OPEN.finditer(mask):
        close = _matching_paren(mask, match.end() - 1)
        then = _THEN.match(mask, close + 1) if close is not None else None
        if then is not None:
            word = mask.index("then", then.start())
            slips.append(Slip(word, then.end(), "", "DataWeave has no `then`: write `if (c) a else b`",
                              "remove `then`"))
    for match in _DEFAULT_COLON.finditer(mask):
        before = mask[: match.start()].rstrip()
        if not before or before[-1] in "{,":
            slips.append(Slip(match.start(), match.start() + 7, None,
                              "`default` is a reserved word and cannot be an object key",
                              "quote it: `\"default\": ...`"))
            continue
        slips.append(Slip(match.start(), match.end(), "default ",
                          "`default: x` is not DataWeave: the fallback operator is `value default x`",
                          "remove the colon: `default 0`"))
    for match in _RESERVED_SELECTOR.finditer(mask):
        word = match.group(1)
        slips.append(Slip(match.start(), match.end(), f'."{word}"',
                          f"`.{word}` selects a field named with a DataWeave reserved word",
                          f'quote the name: `."{word}"`'))
    for match in _ANY_ALL.finditer(mask):
        word = match.group(1)
        function = "some" if word == "any" else "every"
        slips.append(Slip(match.start(), match.end(), f"dw::core::Arrays::{function}",
                          f"DataWeave has no `{word}` function",
                          f"use `dw::core::Arrays::{function}` (imports are not allowed in expression bodies)"))
    return sorted(slips, key=lambda slip: slip.start)


def apply_slips(expr: str, slips: list[Slip]) -> str:
    for slip in sorted(slips, key=lambda slip: slip.start, reverse=True):
        if slip.replacement is not None:
            expr = expr[: slip.start] + slip.replacement + expr[slip.end :]
    return expr


# ---- mapping expression offsets to the file -------------------------------------------------------------------


def _line_starts(text: str) -> list[int]:
    starts = [0]
    for index, char in enumerate(text):
        if char == "\n":
            starts.append(index + 1)
    return starts


def block_indent(text_lines: list[str], indicator_line: int) -> int:
    """Indentation of a block scalar's content: that of its first non-blank line."""
    for line in text_lines[indicator_line + 1 :]:
        if line.strip():
            return len(line) - len(line.lstrip(" "))
    return 0


def expression_offset_in_file(text: str, pos: NodePos, expr: str, offset: int) -> int | None:
    """The file offset of character `offset` of a scalar's value, or None when styles make it unmappable."""
    starts = _line_starts(text)
    line_in_expr = expr.count("\n", 0, offset)
    column_in_expr = offset - (expr.rfind("\n", 0, offset) + 1)
    if pos.style in ("|", ">"):
        if pos.style == ">" and line_in_expr:
            return None
        indent = block_indent(text.split("\n"), pos.line)
        line = pos.line + 1 + line_in_expr
        return starts[line] + indent + column_in_expr if line < len(starts) else None
    if line_in_expr:
        return None
    return starts[pos.line] + pos.column + (1 if pos.style in ("'", '"') else 0) + column_in_expr


def expression_position(pos: NodePos, line: int, column: int, text: str) -> tuple[int, int]:
    """The lint offset for a 1-based (line, column) inside a scalar: (line_delta, absolute column) past the first
    line, (0, column delta) on it — the form jctl.lint adds to the value node's position."""
    if pos.style in ("|", ">"):
        indent = block_indent(text.split("\n"), pos.line)
        return line, indent + column
    if line > 1:
        return line - 1, column
    return 0, column - 1 + (1 if pos.style in ("'", '"') else 0)


# ---- the file rewriter ------------------------------------------------------------------------------------------


def _iter_expression_sites(data: Any, path: tuple[Any, ...] = ()) -> Any:
    if isinstance(data, dict):
        if isinstance(data.get("lang"), str) and isinstance(data.get("expr"), str):
            yield path, data
        for key, value in data.items():
            yield from _iter_expression_sites(value, path + (key,))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _iter_expression_sites(value, path + (index,))


def _expression_edits(text: str, document: Any) -> tuple[list[tuple[int, int, str, str]], list[str]]:
    edits: list[tuple[int, int, str, str]] = []
    skipped: list[str] = []
    for path, site in _iter_expression_sites(document.data):
        if site["lang"] != "dataweave":
            continue
        pos = document.source_map.positions.get(path + ("expr",))
        if pos is None:
            continue
        expr = site["expr"]
        for slip in find_slips(expr):
            if slip.replacement is None:
                continue
            start = expression_offset_in_file(text, pos, expr, slip.start)
            where = f"line {pos.line + 1 + (1 if pos.style in ('|', '>') else 0) + expr.count(chr(10), 0, slip.start)}"
            original = expr[slip.start : slip.end]
            replacement = slip.replacement
            if pos.style == '"':
                replacement = replacement.replace('"', "'")
            elif pos.style == "'":
                replacement = replacement.replace("'", "''")
            if start is None or text[start : start + len(original)] != original:
                skipped.append(f"{where}: {slip.message} (not rewritten: the scalar style hides the exact text)")
                continue
            edits.append((start, start + len(original), replacement, f"{where}: {slip.message}"))
    return edits, skipped


def _legacy_next_edits(text: str, document: Any) -> tuple[list[tuple[int, int, str, str]], list[str]]:
    from jctl.spec.model import iter_states

    lines = text.split("\n")
    starts = _line_starts(text)
    edits: list[tuple[int, int, str, str]] = []
    skipped: list[str] = []
    for ref in iter_states(document.data):
        for block in ("wait", "webhook"):
            body = ref.state.get(block)
            if not isinstance(body, dict) or "default" not in body:
                continue
            target = body["default"]
            default_pos = document.source_map.positions.get(ref.path + (block, "default"))
            state_pos = document.source_map.positions.get(ref.path)
            if default_pos is None or state_pos is None or not isinstance(target, str):
                continue
            where = f"line {default_pos.key_line + 1}"
            if "next" in ref.state and ref.state["next"] != target:
                skipped.append(f"{where}: {block}.default {target!r} conflicts with next {ref.state['next']!r}")
                continue
            if default_pos.end_line != default_pos.key_line:
                skipped.append(f"{where}: {block}.default spans several lines; move it by hand")
                continue
            line_start = starts[default_pos.key_line]
            line_end = starts[default_pos.key_line + 1] if default_pos.key_line + 1 < len(starts) else len(text)
            edits.append((line_start, line_end, "", f"{where}: moved {block}.default to the state's `next:`"))
            if "next" in ref.state:
                continue
            indent = " " * state_pos.column
            last = _last_content_line(lines, ref.path, document, state_pos)
            insert_at = starts[last + 1] if last + 1 < len(starts) else len(text)
            prefix = "" if text[:insert_at].endswith("\n") else "\n"
            comment = _trailing_comment(lines[default_pos.key_line])
            edits.append((insert_at, insert_at, f"{prefix}{indent}next: {target}{comment}\n", ""))
    return edits, skipped


def _trailing_comment(line: str) -> str:
    found = re.search(r"\s+#.*$", line)
    return found.group() if found else ""


def _last_content_line(lines: list[str], path: tuple[Any, ...], document: Any, state_pos: NodePos) -> int:
    """The last line that belongs to the state mapping (deeper-indented than its key, not blank or a comment)."""
    key_indent = state_pos.key_column
    last = state_pos.line
    for number in range(state_pos.line, min(state_pos.end_line + 1, len(lines))):
        stripped = lines[number].strip()
        if not stripped or stripped.startswith("#"):
            continue
        if number > state_pos.line and len(lines[number]) - len(lines[number].lstrip(" ")) <= key_indent:
            break
        last = number
    return last


def fix_text(text: str, path: Path) -> tuple[str, FixResult]:
    document = parse_document(text, path)
    edits, skipped = _expression_edits(text, document)
    more, more_skipped = _legacy_next_edits(text, document)
    edits += more
    skipped += more_skipped
    if not edits:
        return text, FixResult(False, [], skipped)
    for start, end, replacement, _ in sorted(edits, key=lambda edit: (edit[0], edit[1]), reverse=True):
        text = text[:start] + replacement + text[end:]
    return text, FixResult(True, [message for *_, message in edits if message], skipped)


def fix_file(path: Path) -> FixResult:
    """Rewrite the file in place; nothing is written unless the result still loads."""
    path = Path(path)
    try:
        original = read_text(path)
        fixed, result = fix_text(original, path)
    except LoadError as error:
        return FixResult(False, [], [f"not fixed: the file does not load ({error.message})"])
    if not result.changed:
        return result
    try:
        parse_document(fixed, path)
    except LoadError as error:
        return FixResult(False, [], [f"not fixed: the rewrite would not load ({error.message}, line {error.line})"])
    path.write_text(fixed, encoding="utf-8")
    return result
