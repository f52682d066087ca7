"""Console setup and small rendering helpers shared by the commands (NO_COLOR, JSON printing, input parsing)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jctl.errors import UsageError

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


def read_json_argument(value: str, what: str) -> Any:
    """Parse `JSON`, `@file.json` (or .yaml) or `-` (stdin) into a value; malformed input is a UsageError."""
    if value == "-":
        text, source = sys.stdin.read(), "stdin"
    elif value.startswith("@"):
        path = Path(value[1:])
        try:
            text, source = path.read_text(encoding="utf-8"), str(path)
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read {what} file {path}: {getattr(exc, 'strerror', None) or exc}") from None
        if path.suffix in (".yaml", ".yml"):
            return _yaml_value(text, source, what)
    else:
        text, source = value, f"--{what}"
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"{source}:{exc.lineno}:{exc.colno}: {what} is not valid JSON: {exc.msg}",
            hint="pass JSON inline, `@file.json`, or `-` to read stdin",
        ) from None


def _yaml_value(text: str, source: str, what: str) -> Any:
    from jctl.spec.loader import LoadError, parse_document

    try:
        return parse_document(text, Path(source)).data
    except LoadError as exc:
        raise UsageError(f"{source}:{exc.line}:{exc.column}: {what} is not valid YAML: {exc.message}") from None
