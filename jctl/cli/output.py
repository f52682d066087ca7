"""Console setup and small rendering helpers shared by the commands (NO_COLOR, JSON printing, input parsing)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from jctl.errors import JctlError, UsageError

MAX_NESTING = 256  # as for spec files (jctl.spec.loader.MAX_DEPTH)

if TYPE_CHECKING:
    from rich.console import Console


def console(stderr: bool = False) -> Console:
    from rich.console import Console

    options: dict[str, Any] = {"stderr": stderr, "highlight": False, "soft_wrap": True}
    if os.environ.get("NO_COLOR"):  # no-color.org: any non-empty value; we drop all ANSI styling, not just colour
        options.update(color_system=None, no_color=True)
    stream = sys.stderr if stderr else sys.stdout
    if not stream.isatty() and "COLUMNS" not in os.environ:
        options["width"] = 160  # piped into a file or a CI log: don't squeeze tables into 80 columns
    return Console(**options)


def print_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=2, default=str) + "\n")


def print_json_list(items: Iterable[Any], render: Callable[[Any], str] | None = None) -> None:
    """Exactly `print_json(list(items))`, written as the items come: a listing of a whole store starts at once and
    never holds every row. Flat objects skip the json module's pure-Python indenting encoder (10x slower than its
    C one), which is what `indent` costs on every other value. `render` gives an item's text as `print_json` would
    indent it one level down (a listing's own, faster renderer)."""
    import gc

    write = sys.stdout.write
    separator = "[\n  "
    collecting = gc.isenabled()
    gc.disable()  # a stream of short-lived rows holds no cycles; collecting through it is most of its cost
    try:
        if render is None:
            for item in items:
                write(separator + _indented(item).replace("\n", "\n  "))  # JSON text has newlines only between tokens
                separator = ",\n  "
        else:
            for item in items:
                write(separator + render(item))
                separator = ",\n  "
    finally:
        if collecting:
            gc.enable()
    write("[]\n" if separator == "[\n  " else "\n]\n")


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
