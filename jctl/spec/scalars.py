"""Positions inside scalar values: where a character of a string value sits in the file text, for plain, quoted
and block scalars, and the `Finding.offset` that points a diagnostic at it."""

from __future__ import annotations

from jctl.diagnostics import DocPath
from jctl.spec.loader import LoadedDocument, NodePos

_QUOTES = ("'", '"')
_BLOCK = ("|", ">")


def line_starts(text: str) -> list[int]:
    """The offset at which each line of `text` starts."""
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


def file_offset(text: str, pos: NodePos, value: str, index: int) -> int | None:
    """The file offset of character `index` of a scalar's value, or None when its style makes it unmappable
    (folded lines, or a flow scalar spanning lines)."""
    line_in_value = value.count("\n", 0, index)
    column_in_value = index - (value.rfind("\n", 0, index) + 1)
    starts = line_starts(text)
    if pos.style in _BLOCK:
        if pos.style == ">" and line_in_value:
            return None
        indent = block_indent(text.split("\n"), pos.line)
        line = pos.line + 1 + line_in_value
        return starts[line] + indent + column_in_value if line < len(starts) else None
    if line_in_value:
        return None
    return starts[pos.line] + pos.column + (1 if pos.style in _QUOTES else 0) + column_in_value


def value_line(pos: NodePos, value: str, index: int) -> int:
    """The 1-based file line of character `index` of a scalar's value (block content starts below its indicator)."""
    return pos.line + 1 + (1 if pos.style in _BLOCK else 0) + value.count("\n", 0, index)


def finding_offset(pos: NodePos, line: int, column: int, text: str) -> tuple[int, int]:
    """The `Finding.offset` for a 1-based (line, column) inside a scalar's value: (line_delta, absolute column)
    past the value node's first line, (0, column delta) on it."""
    if pos.style in _BLOCK:
        indent = block_indent(text.split("\n"), pos.line)
        return line, indent + column
    if line > 1:
        return line - 1, column
    return 0, column - 1 + (1 if pos.style in _QUOTES else 0)


def inline_offset(document: LoadedDocument, path: DocPath, index: int) -> tuple[int, int] | None:
    """The `Finding.offset` of character `index` of a one-line plain or quoted scalar, or None when escapes in
    its source text (`\\n`, `''`) would shift the column."""
    pos = document.source_map.positions.get(path)
    if pos is None or pos.line != pos.end_line or pos.style not in (None, "", *_QUOTES):
        return None
    lead = 1 if pos.style in _QUOTES else 0
    lines = document.lines
    if pos.line >= len(lines):
        return None
    before = lines[pos.line][pos.column + lead : pos.column + lead + index]
    return (0, lead + index) if "\\" not in before and "''" not in before else None
