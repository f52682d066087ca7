"""Findings and the rule registry: every rule jctl knows, with its id, default severity and summary.

A check yields `Finding`s that carry a document path; the pipeline turns them into `Diagnostic`s with line and
column through the document's source map, so checks never deal with positions or printing.
"""

from __future__ import annotations

import json
import re
from enum import Enum
from typing import Literal, NamedTuple

PathPart = str | int
DocPath = tuple[PathPart, ...]
Anchor = Literal["key", "value"]  # which node of a path a finding points at: its mapping key or its value


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


class Diagnostic(NamedTuple):
    file: str
    line: int  # 1-based
    column: int  # 1-based
    rule: str
    severity: Severity
    message: str
    hint: str = ""
    path: str = ""  # the offending node's document path (`spec.states.decide.next`), "" for file-level problems

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "path": self.path,
            "rule": self.rule,
            "severity": self.severity.value,
            "message": self.message,
            "hint": self.hint,
        }


_PLAIN_KEY = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$-]*$")


def path_text(path: DocPath) -> str:
    """A document path as people write it: `workflows[0].steps[1].outputs.jobId`, `paths["/items/{id}"].get`."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _PLAIN_KEY.match(part):
            text += f".{part}" if text else part
        else:
            text += "[" + json.dumps(part) + "]"
    return text


class Finding(NamedTuple):
    """What a check reports: where (a path into the document) and what, before positions are resolved.

    `at="key"` points at the mapping key of the last path element (state-level findings point at the state key);
    `at="value"` at the value node. `offset` places expression errors inside a scalar: `(0, column_delta)` stays on
    the value node's line and adds to its column; `(line_delta, column)` with line_delta > 0 moves down that many
    lines and uses `column` as the absolute 1-based column (block scalars: content indentation + column in expr).
    """

    path: DocPath
    message: str
    hint: str = ""
    at: Anchor = "value"
    rule: str | None = None
    severity: Severity | None = None
    offset: tuple[int, int] | None = None


class Rule(NamedTuple):
    id: str
    severity: Severity
    summary: str


RULES: dict[str, Rule] = {}


def register_rule(rule_id: str, severity: Severity | str, summary: str) -> Rule:
    rule = Rule(rule_id, Severity(severity), summary)
    RULES[rule_id] = rule
    return rule


# Rules raised by the loader and pipeline itself, not by a check function.
register_rule("yaml-syntax", Severity.ERROR, "The file is not well-formed YAML or JSON, or is not a mapping.")
register_rule("duplicate-key", Severity.ERROR, "A mapping repeats a key; YAML loaders silently keep the last one.")
register_rule("unknown-document", Severity.ERROR,
              "A file given to validate is neither a journey, an OpenAPI nor an Arazzo document.")
register_rule("unreadable", Severity.ERROR, "The file cannot be read (missing, binary, not UTF-8, or too large).")
