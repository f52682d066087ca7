"""Lint configuration from `[tool.jctl]` in pyproject.toml or a `.jctl.toml`: disabled rules, severity
overrides and per-path ignores. The nearest file up from the working directory wins."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from jctl.errors import UsageError

if TYPE_CHECKING:  # finding the config file (the limits of every command) needs no rule registry
    from jctl.diagnostics import Diagnostic, Severity

CONFIG_FILES = (".jctl.toml", "pyproject.toml")


@dataclass
class LintConfig:
    root: Path = field(default_factory=Path.cwd)
    disable: frozenset[str] = frozenset()
    severity: dict[str, Severity] = field(default_factory=dict)
    per_path_ignores: dict[str, frozenset[str]] = field(default_factory=dict)
    source: Path | None = None

    def apply(self, diagnostic: Diagnostic) -> Diagnostic | None:
        """The diagnostic as configured, or None when it is switched off for its file."""
        if diagnostic.rule in self.disable or diagnostic.rule in self._ignored_for(diagnostic.file):
            return None
        severity = self.severity.get(diagnostic.rule)
        return diagnostic._replace(severity=severity) if severity else diagnostic

    def _ignored_for(self, file: str) -> frozenset[str]:
        if not self.per_path_ignores:
            return frozenset()
        path = Path(file).resolve()
        try:
            relative = path.relative_to(self.root.resolve()).as_posix()
        except ValueError:
            relative = path.as_posix()
        ignored: set[str] = set()
        for pattern, rules in self.per_path_ignores.items():
            if fnmatch.fnmatch(relative, pattern):
                ignored |= rules
        return frozenset(ignored)


def find_config(start: Path | None = None) -> Path | None:
    directory = (start or Path.cwd()).resolve()
    for candidate_dir in (directory, *directory.parents):
        for name in CONFIG_FILES:
            candidate = candidate_dir / name
            if candidate.is_file() and (name != "pyproject.toml" or _has_tool_table(candidate)):
                return candidate
    return None


def _has_tool_table(pyproject: Path) -> bool:
    try:
        text = pyproject.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    if "jctl" not in text and "\\u" not in text and "\\U" not in text:
        return False  # the key cannot be there, not even escaped: no need to parse (or import) TOML
    import tomllib

    try:
        return "jctl" in tomllib.loads(text).get("tool", {})
    except tomllib.TOMLDecodeError:
        return False


def load_config(path: Path | None = None) -> LintConfig:
    path = path or find_config()
    if path is None:
        return LintConfig()
    import tomllib

    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read configuration {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: invalid TOML: {exc}") from None
    table = document.get("tool", {}).get("jctl", {}) if path.name == "pyproject.toml" else document
    return _parse_table(table, path)


def _parse_table(table: dict[str, object], source: Path) -> LintConfig:
    from jctl.checks import load_checks
    from jctl.diagnostics import RULES, Severity

    load_checks()
    known = set(RULES)

    def rule_ids(value: object, where: str) -> frozenset[str]:
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise UsageError(f"{source}: `{where}` must be a list of rule ids")
        unknown = sorted(set(value) - known)
        if unknown:
            raise UsageError(f"{source}: unknown rule id(s) in `{where}`: {', '.join(unknown)}",
                             hint="`jctl validate --list-rules` prints every rule id")
        return frozenset(value)

    severities: dict[str, Severity] = {}
    disabled = set(rule_ids(table.get("disable", []), "disable"))
    raw_severity = table.get("severity", {})
    if not isinstance(raw_severity, dict):
        raise UsageError(f"{source}: `severity` must be a table of rule-id = \"error\" | \"warning\" | \"off\"")
    for rule, level in raw_severity.items():
        rule_ids([rule], "severity")
        if level == "off":
            disabled.add(rule)
        elif level in ("error", "warning", "note"):
            severities[rule] = Severity(level)
        else:
            raise UsageError(f"{source}: severity of `{rule}` must be \"error\", \"warning\", \"note\" or \"off\"")
    raw_ignores = table.get("per-path-ignores", {})
    if not isinstance(raw_ignores, dict):
        raise UsageError(f"{source}: `per-path-ignores` must be a table of \"glob\" = [rule ids]")
    ignores = {pattern: rule_ids(rules, f"per-path-ignores.{pattern}") for pattern, rules in raw_ignores.items()}
    return LintConfig(source.parent, frozenset(disabled), severities, ignores, source)
