"""The validate pipeline: find spec files, load each once, run the registered checks, and turn findings into
positioned diagnostics filtered by configuration."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from jctl.checks import FileKind, SpecFile, Workspace, load_checks, run_checks
from jctl.config import LintConfig
from jctl.diagnostics import RULES, Diagnostic, Finding, Severity, path_text
from jctl.lint_processes import LintOne, Share, abandon_share, collect_share, plan_shares, start_share, usable_processes
from jctl.spec.loader import LoadedDocument, LoadError
from jctl.spec.model import json_type

_KINDS: tuple[FileKind, ...] = ("journey", "openapi", "arazzo")
_SUFFIXES: dict[str, FileKind] = {f".{kind}{ext}": kind for kind in _KINDS for ext in (".yaml", ".yml", ".json")}
_SKIPPED_DIRS = {".git", ".hg", ".venv", "venv", "node_modules", "__pycache__", ".jctl", ".tox", ".mypy_cache"}


def classify(path: Path) -> FileKind | None:
    """What a file is, by its name: `x.journey.yaml`, `x.openapi.json`, `x.arazzo.yml`…"""
    name = path.name.lower()
    for suffix, kind in _SUFFIXES.items():
        if name.endswith(suffix):
            return kind
    return None


def discover(paths: Iterable[Path]) -> tuple[list[Path], list[Path]]:
    """Spec files under `paths` (files are taken as given, directories searched recursively) and missing paths."""
    found: list[Path] = []
    missing: list[Path] = []
    for path in paths:
        if path.is_file():
            found.append(path)
        elif path.is_dir():
            found.extend(_walk(path))
        else:
            missing.append(path)
    return list(dict.fromkeys(found)), missing


def _walk(directory: Path) -> Iterator[Path]:
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if d not in _SKIPPED_DIRS)
        for name in sorted(files):
            candidate = Path(root, name)
            if classify(candidate) and candidate.is_file():  # not a FIFO or device: reading one would block
                yield candidate


@dataclass
class LintReport:
    files: list[Path] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return sum(1 for d in self.diagnostics if d.severity is Severity.ERROR)

    @property
    def warnings(self) -> int:
        return sum(1 for d in self.diagnostics if d.severity is Severity.WARNING)


def display_path(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


def lint_paths(
    paths: Iterable[Path],
    config: LintConfig | None = None,
    *,
    expressions: bool = True,
    on_file: Callable[[Path], None] | None = None,
) -> LintReport:
    files, _ = discover(paths)
    workspace = Workspace(expressions=expressions)
    workspace.linted = frozenset(workspace.real_path(path) for path in files)
    report = LintReport(files=files)

    def lint_one(path: Path) -> list[Diagnostic]:
        return lint_file(path, workspace, config)

    found: dict[Path, list[Diagnostic]] = {}
    shares: list[Share] = []
    try:
        for position, path in enumerate(files):
            if path in found:
                continue  # a forked process lints it
            found[path] = lint_one(path)
            if on_file:
                on_file(path)
            if position == 0:  # forked only now: the rules and validators the first file loaded are shared
                shares = _start_shares(files, lint_one)
                found.update((member, []) for share in shares for member in share.files)
        while shares:
            share = shares.pop(0)
            found.update(_collected(share, lint_one))
            for member in share.files:
                if on_file:
                    on_file(member)
    finally:
        for share in shares:
            abandon_share(share)
    for path in files:
        report.diagnostics.extend(found[path])
    return report


def _start_shares(files: list[Path], lint_one: LintOne) -> list[Share]:
    """Forked processes linting later OpenAPI/Arazzo files while this one lints the rest (see lint_processes)."""
    processes = usable_processes()
    if processes < 2 or len(files) < 3:
        return []
    later = files[1:]
    plan = plan_shares(later, [classify(path) for path in later], [_size(path) for path in later], processes)
    for kind in {classify(path) for part in plan for path in part}:
        load_checks(kind)  # imported once, here, rather than in each process
    return [share for share in (start_share(part, lint_one) for part in plan) if share is not None]


def _collected(share: Share, lint_one: LintOne) -> dict[Path, list[Diagnostic]]:
    found = collect_share(share)
    if found is None:  # its process failed: lint the share here, where a failure is reported as usual
        found = [lint_one(path) for path in share.files]
    return dict(zip(share.files, found))


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def lint_file(path: Path, workspace: Workspace | None = None, config: LintConfig | None = None) -> list[Diagnostic]:
    workspace = workspace or Workspace()
    shown = display_path(path)
    loaded = workspace.load(path)
    kind = classify(path) or (None if isinstance(loaded, LoadError) else kind_of(loaded.data))
    if isinstance(loaded, LoadError):
        raw = [_load_error_diagnostic(shown, loaded)]
    elif kind is None:
        raw = [_unknown_document(shown)]
    else:
        raw = list(_document_diagnostics(shown, kind, loaded, workspace))
    configured = (config.apply(d) if config else d for d in raw)
    return sorted((d for d in configured if d is not None), key=lambda d: (d.line, d.column, d.rule))


def kind_of(data: object) -> FileKind | None:
    """What a file named otherwise (`api.yaml`) is, by its top-level fields; None when it is none of the three."""
    if not isinstance(data, dict):
        return "journey"  # reported as a top level that is not a mapping
    if "openapi" in data or "swagger" in data:
        return "openapi"
    if "arazzo" in data:
        return "arazzo"
    if data.keys() & {"apiVersion", "kind", "metadata", "spec"}:
        return "journey"
    return None


def _unknown_document(shown: str) -> Diagnostic:
    return Diagnostic(shown, 1, 1, "unknown-document", Severity.ERROR,
                      "this file is neither a journey (`apiVersion`/`kind`/`spec`), an OpenAPI document (`openapi:`) nor an "
                      "Arazzo document (`arazzo:`), so nothing in it can be checked",
                      "name the file `*.journey.yaml`, `*.openapi.yaml` or `*.arazzo.yaml`, or pass only spec files")


def _load_error_diagnostic(shown: str, error: LoadError) -> Diagnostic:
    return Diagnostic(shown, error.line, error.column, error.rule, Severity.ERROR, error.message, error.hint)


def _document_diagnostics(
    shown: str, kind: FileKind, document: LoadedDocument, workspace: Workspace
) -> Iterator[Diagnostic]:
    for duplicate in document.duplicate_keys:
        yield Diagnostic(
            shown, duplicate.line, duplicate.column, "duplicate-key", Severity.ERROR,
            f"key `{duplicate.path[-1]}` appears twice in this mapping (first on line {duplicate.first_line})",
            "remove one of them; YAML loaders silently keep only the last value",
        )
    if not isinstance(document.data, dict):
        yield Diagnostic(shown, 1, 1, "yaml-syntax", Severity.ERROR,
                         f"expected a mapping at the top level, found {json_type(document.data)}",
                         "a spec is a mapping that starts with `apiVersion: v1` and `kind:`")
        return
    spec = SpecFile(kind, document, workspace)
    for rule_id, finding in run_checks(spec):
        yield _position(shown, document, rule_id, finding)


def _position(shown: str, document: LoadedDocument, rule_id: str, finding: Finding) -> Diagnostic:
    line, column = document.source_map.line_col(finding.path, finding.at)
    if finding.offset is not None:
        line_delta, column_part = finding.offset
        line, column = (line + line_delta, column_part) if line_delta else (line, column + column_part)
    rule = RULES.get(rule_id)
    severity = finding.severity or (rule.severity if rule else Severity.ERROR)
    return Diagnostic(shown, line, column, rule_id, severity, finding.message, finding.hint, path_text(finding.path))
