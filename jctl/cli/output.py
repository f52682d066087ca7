"""Console setup and small rendering helpers shared by the commands (NO_COLOR, JSON printing, input parsing)."""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

from jctl.errors import JctlError, UsageError

MAX_NESTING = 256  # as for spec files (jctl.spec.loader.MAX_DEPTH)

if TYPE_CHECKING:
    from rich.console import Console

T = TypeVar("T")


def console(stderr: bool = False) -> Console:
    from rich.console import Console

    options: dict[str, Any] = {"stderr": stderr, "highlight": False, "soft_wrap": True}
    if os.environ.get("NO_COLOR"):  # no-color.org: any non-empty value; we drop all ANSI styling, not just colour
        options.update(color_system=None, no_color=True)
    stream = sys.stderr if stderr else sys.stdout
    if not stream.isatty() and "COLUMNS" not in os.environ:
        options["width"] = 160  # piped into a file or a CI log: don't squeeze tables into 80 columns
    return Console(**options)


def print_line(text: str, *, stderr: bool = False, markup: bool = False) -> None:
    """`console(stderr).print(text, markup=markup)`, written directly when rich would write the text unchanged,
    which spares a command importing rich (its console alone costs more start-up than `status` itself)."""
    stream = sys.stderr if stderr else sys.stdout
    if writes_plainly(stream) and plain_text(text, markup):
        stream.write(text + "\n")
        stream.flush()  # as rich does after each print
    else:
        console(stderr=stderr).print(text, markup=markup)


def writes_plainly(stream: TextIO) -> bool:
    """Whether `console()` writes no terminal styling to `stream`: NO_COLOR, or not a terminal by rich's rules
    (TTY_COMPATIBLE, then FORCE_COLOR, then isatty); and its encoding takes any text."""
    if not (getattr(stream, "encoding", None) or "").lower().replace("-", "").startswith("utf"):
        return False
    return bool(os.environ.get("NO_COLOR")) or not _rich_terminal(stream)


def _rich_terminal(stream: TextIO) -> bool:
    compatible = os.environ.get("TTY_COMPATIBLE", "")
    if compatible in ("0", "1"):
        return compatible == "1"
    force_color = os.environ.get("FORCE_COLOR")
    if force_color is not None:
        return force_color != ""
    try:
        return stream.isatty()
    except ValueError:
        return False


_EMOJI_CODE = r"(:(\S*?)(?:(?:\-)(emoji|text))?:)"  # what rich may replace (rich._emoji_replace)
_DIGIT_EMOJI = ("100", "1234")  # the only emoji names of digits alone: `10:00:00` has none
_MARKUP_TAG = r"((\\*)\[([a-z#/@][^[]*?)])"  # what rich reads as a tag (rich.markup.RE_TAGS): `["a", 1]` is none


def plain_text(text: str, markup: bool = True) -> bool:
    """Text that rich prints as it is: printable (no control codes to strip, no tabs to expand), no emoji codes,
    and, with markup, nothing rich would read as a tag or an escaped bracket."""
    return (text.isprintable() and not (markup and "[" in text and ("\\[" in text or re.search(_MARKUP_TAG, text)))
            and all(code[2].isdigit() and code[2] not in _DIGIT_EMOJI for code in re.finditer(_EMOJI_CODE, text)))


def plain_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str | None:
    """What `console().print(Table(*header))` with these rows prints, rich's default table (a heavy head box,
    one space of padding), when it prints plainly: no terminal styling, cells of printable ASCII without markup
    or surrounding spaces, and the table within the console's width. None when rich must render it."""
    cells = [list(header), *(list(row) for row in rows)]
    if not writes_plainly(sys.stdout) or not all(_plain_cell(cell) for row in cells for cell in row):
        return None
    widths = [max(len(row[column]) for row in cells) for column in range(len(header))]
    if sum(widths) + 3 * len(widths) + 1 > _console_width(sys.stdout):
        return None  # rich would wrap or shorten cells

    def rule(left: str, line: str, joint: str, right: str) -> str:
        return left + joint.join(line * (width + 2) for width in widths) + right

    def cells_of(row: list[str], edge: str) -> str:
        return edge + edge.join(f" {cell:<{width}} " for cell, width in zip(row, widths)) + edge

    lines = [rule("┏", "━", "┳", "┓"), cells_of(cells[0], "┃"), rule("┡", "━", "╇", "┩"),
             *(cells_of(row, "│") for row in cells[1:]), rule("└", "─", "┴", "┘")]
    return "\n".join(lines) + "\n"


def _plain_cell(cell: object) -> bool:
    return type(cell) is str and cell.isascii() and plain_text(cell) and cell == cell.strip() and "  " not in cell


def _console_width(stream: TextIO) -> int:
    """The width `console()` lays out in (see there and rich's Console.size)."""
    columns = os.environ.get("COLUMNS")
    if columns is not None and columns.isdigit():
        return int(columns)
    if not stream.isatty() and columns is None:
        return 160
    if _rich_terminal(stream) and os.environ.get("TERM", "").lower() in ("dumb", "unknown"):
        return 80
    for descriptor in (0, 1, 2):
        try:
            return os.get_terminal_size(descriptor).columns or 80
        except (AttributeError, ValueError, OSError):
            continue
    return 80


def print_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=2, default=str) + "\n")


def print_json_batches(batches: Iterable[Sequence[T]], render: Callable[[Sequence[T]], str]) -> None:
    """`print_json` of the rows of every batch as one list, written a batch at a time as the rows come: a listing
    of the whole store starts at once and never holds every row (`render`: a batch as its members indented one level
    down, joined by `,\\n  `)."""
    from jctl.gc_pause import collector_paused

    write = sys.stdout.write
    opening = "[\n  "
    with collector_paused():  # batches of short-lived rows: collecting as they come was most of a listing's time
        for batch in batches:
            if batch:
                write(opening + render(batch))
                opening = ",\n  "
    write("[]\n" if opening == "[\n  " else "\n]\n")


def _indented(value: Any) -> str:
    if not isinstance(value, dict) or not value:
        return json.dumps(value, indent=2, default=str)
    if not any(isinstance(member, (dict, list)) for member in value.values()):
        return "{\n  " + _FLAT_MEMBERS(value)[1:-1] + "\n}"  # the C encoder, its separators doing the indenting
    members = [f"{json.dumps(key)}: {_indented(member) if isinstance(member, (dict, list)) else json.dumps(member, default=str)}"
               for key, member in value.items()]
    return "{\n  " + ",\n  ".join(member.replace("\n", "\n  ") for member in members) + "\n}"


_FLAT_MEMBERS = json.JSONEncoder(separators=(",\n  ", ": "), default=str).encode


def read_json_argument(value: str, what: str, max_bytes: int | None = None) -> Any:
    """Parse `JSON`, `@file.json` (or .yaml) or `-` (stdin) into a value; malformed input is a UsageError. With
    `max_bytes` (the input limit), a file or stdin is never read past it and longer text is refused."""
    if value == "-":
        text, source = _bounded_text(sys.stdin.buffer, max_bytes, "stdin", what), "stdin"
    elif value.startswith("@"):
        path = Path(value[1:])
        try:
            with path.open("rb") as stream:
                text, source = _bounded_text(stream, max_bytes, str(path), what), str(path)
        except OSError as exc:
            raise UsageError(f"cannot read {what} file {path}: {exc.strerror or exc}") from None
        if path.suffix in (".yaml", ".yml"):
            return _finite(_yaml_value(text, source, what), source, what)
    else:
        text, source = value, f"--{what}"
        if max_bytes is not None and len(text.encode("utf-8", "surrogatepass")) > max_bytes:
            _over(len(text.encode("utf-8", "surrogatepass")), max_bytes, source, what)
    try:
        return _finite(json.loads(text, object_pairs_hook=_refuse_duplicates), source, what)
    except RecursionError:
        raise UsageError(f"{source}: {what} is nested deeper than {MAX_NESTING} levels") from None
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"{source}:{exc.lineno}:{exc.colno}: {what} is not valid JSON: {exc.msg}",
            hint="pass JSON inline, `@file.json`, or `-` to read stdin",
        ) from None
    except _DuplicateKey as exc:
        raise UsageError(f"{source}: {what} has a duplicate key {exc.args[0]!r}; JSON objects need unique keys",
                         hint="keep one of the entries") from None
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        raise UsageError(f"{source}: {what} cannot be read: {str(exc).split(';')[0]}",
                         hint="write such a number as a string") from None


class _DuplicateKey(Exception):
    pass


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for key, item in pairs:
        if key in document:
            raise _DuplicateKey(key)
        document[key] = item
    return document


def _bounded_text(stream: Any, max_bytes: int | None, source: str, what: str) -> str:
    data: bytes = stream.read() if max_bytes is None else stream.read(max_bytes + 1)
    if max_bytes is not None and len(data) > max_bytes:
        _over(None, max_bytes, source, what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"cannot read {what} from {source}: {exc}") from None


def _over(size: int | None, max_bytes: int, source: str, what: str) -> None:
    from jctl.limits import LimitExceeded, human, over_message

    if size is None:
        raise LimitExceeded(over_message(f"{source}: {what}", max_bytes + 1, max_bytes, "input")
                            .replace(human(max_bytes + 1), f"more than {human(max_bytes)}"), "input")
    raise LimitExceeded(over_message(f"{source}: {what}", size, max_bytes, "input"), "input")


def _finite(value: Any, source: str, what: str) -> Any:
    """Python's json (and YAML's .inf/.nan) accept NaN, Infinity and lone surrogates (`"\\ud800"`); none of them
    can be stored or printed as JSON text, so they are refused here rather than failing later; so is nesting
    deeper than spec files may have."""
    if _depth(value) > MAX_NESTING:
        raise UsageError(f"{source}: {what} is nested deeper than {MAX_NESTING} levels")
    try:
        json.dumps(value, allow_nan=False)
    except ValueError:
        raise UsageError(f"{source}: {what} contains NaN or Infinity (or a number too large for a double), "
                         "which JSON does not allow",
                         hint="write the number as a finite value, or as a string") from None
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise UsageError(f"{source}: {what} contains a lone UTF-16 surrogate ({exc.object[exc.start]!r}), "
                         "which is not a Unicode character",
                         hint="escape a character outside the BMP as a surrogate pair, or write it as is") from None
    return value


def _depth(value: Any) -> int:
    deepest, pending = 0, [(value, 1)]
    while pending:
        node, depth = pending.pop()
        if isinstance(node, (dict, list)):
            deepest = max(deepest, depth)
            pending.extend((child, depth + 1) for child in (node.values() if isinstance(node, dict) else node))
    return deepest


def _yaml_value(text: str, source: str, what: str) -> Any:
    from jctl.spec.loader import LoadError, parse_document

    try:
        return parse_document(text, Path(source)).data
    except LoadError as exc:
        raise UsageError(f"{source}:{exc.line}:{exc.column}: {what} is not valid YAML: {exc.message}") from None


def report_error(error: JctlError) -> None:
    """A JctlError as people read it: the message, its details, and a hint."""
    from rich.text import Text

    err = console(stderr=True)
    err.print(Text("error: ", style="bold red") + Text(error.message))
    for detail in error.details:
        err.print(Text(f"  - {detail}"))
    if error.hint:
        err.print(Text("hint: ", style="cyan") + Text(error.hint))
