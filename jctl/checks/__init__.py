"""The rule registry: each check is a generator of `Finding`s registered with its rule id.

Adding a rule is one decorated function in a module of this package (listed in `CHECK_MODULES`) and one fixture
under tests/cases/rules/. Checks never print and never compute positions.
"""

from __future__ import annotations

import importlib
import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from jctl.diagnostics import Finding, Severity, register_rule
from jctl.spec.loader import LoadedDocument, LoadError, load_document

FileKind = Literal["journey", "openapi", "arazzo"]

# Modules that register checks on import; order is the order findings are produced in.
CHECK_MODULES = (
    "jctl.checks.schema",
    "jctl.checks.placement",
    "jctl.checks.structure",
    "jctl.checks.graph",
    "jctl.checks.references",
    "jctl.checks.values",
    "jctl.checks.cookies",
    "jctl.checks.style",
    "jctl.checks.plugins",
    "jctl.checks.crossfile",
    "jctl.checks.openapi",
    "jctl.checks.openapi_refs",
    "jctl.checks.openapi_rules",
    "jctl.checks.openapi_examples",
    "jctl.checks.arazzo",
    "jctl.checks.arazzo_lists",
    "jctl.checks.arazzo_inputs",
    "jctl.checks.expressions",
)


@dataclass
class SpecFile:
    """One loaded file as checks see it."""

    kind: FileKind
    document: LoadedDocument
    workspace: Workspace

    @property
    def path(self) -> Path:
        return self.document.path

    @property
    def data(self) -> Any:
        return self.document.data


@dataclass
class Workspace:
    """Files loaded once per validation run, shared by checks that look across files (OpenAPI, Arazzo)."""

    expressions: bool = True
    linted: frozenset[Path] = frozenset()  # resolved paths this run lints: read with positions even when linked
    _documents: dict[Path, LoadedDocument | LoadError] = field(default_factory=dict)
    _real_paths: dict[Path, Path] = field(default_factory=dict)
    _refs: dict[tuple[Path, str], Path | None] = field(default_factory=dict)

    def load(self, path: Path, *, positions: bool = True) -> LoadedDocument | LoadError:
        """The file at `path`, read once per run. A file another one links to is read with `positions=False`: its
        positions are then found only if a finding needs one (or the file is linted itself), most never do."""
        path = self.real_path(path)
        if path not in self._documents:
            try:
                self._documents[path] = load_document(path, positions=positions or path in self.linted)
            except LoadError as exc:
                self._documents[path] = exc
        return self._documents[path]

    def loaded_paths(self) -> list[Path]:
        """Every file this workspace has read (resolved paths)."""
        return list(self._documents)

    def real_path(self, path: Path) -> Path:
        """`path.resolve()`, remembered for the run: checks ask for the same few files again and again."""
        real = self._real_paths.get(path)
        if real is None:
            real = self._real_paths[path] = path.resolve()
        return real

    def find_ref(self, spec_path: Path, ref: str) -> Path | None:
        """`resolve_ref`, each answer remembered for the run (several checks of a file follow the same refs)."""
        key = (self.real_path(spec_path).parent, ref)
        if key not in self._refs:
            self._refs[key] = _find_upwards(key[0], ref)
        return self._refs[key]

    @staticmethod
    def resolve_ref(spec_path: Path, ref: str) -> Path | None:
        """Resolve a relative file reference: next to the spec first, then in each ancestor directory.

        Specs in the wild write `openApiRef` relative to their repository root rather than to the journey file;
        walking up the ancestors finds those without guessing where the root is.
        """
        from jctl.fs import real_path  # each drive of an instance with an OpenAPI operation asks

        return _find_upwards(Path(real_path(spec_path)).parent, ref)


def _find_upwards(directory: Path, ref: str) -> Path | None:
    ref_path = Path(ref)
    if ref_path.is_absolute():
        return ref_path if ref_path.is_file() else None
    for folder in itertools.chain((directory,), directory.parents):  # parents built as the walk reaches them
        candidate = folder / ref_path
        if candidate.is_file():
            return candidate
    return None


CheckFunction = Callable[[SpecFile], Iterable[Finding]]


@dataclass(frozen=True)
class Check:
    rule: str
    kinds: tuple[FileKind, ...]
    function: CheckFunction
    needs_expressions: bool = False


CHECKS: list[Check] = []


def check(
    rule_id: str,
    severity: Severity | str,
    summary: str,
    *,
    kinds: tuple[FileKind, ...] = ("journey",),
    also: tuple[tuple[str, Severity | str, str], ...] = (),
    needs_expressions: bool = False,
) -> Callable[[CheckFunction], CheckFunction]:
    """Register a check for `rule_id` (findings may name other rules declared in `also`)."""

    def register(function: CheckFunction) -> CheckFunction:
        register_rule(rule_id, severity, summary)
        for extra_id, extra_severity, extra_summary in also:
            register_rule(extra_id, extra_severity, extra_summary)
        CHECKS.append(Check(rule_id, kinds, function, needs_expressions))
        return function

    return register


# The file kinds a module's checks serve, so a run over Arazzo or OpenAPI files alone does not import the journey
# rules; a module missing here is loaded for every kind.
MODULE_KINDS: dict[str, tuple[FileKind, ...]] = {
    **{f"jctl.checks.{name}": ("journey",) for name in (
        "schema", "placement", "structure", "graph", "references", "values", "cookies", "style", "plugins",
        "crossfile", "expressions")},
    **{f"jctl.checks.{name}": ("openapi",) for name in ("openapi", "openapi_refs", "openapi_rules",
                                                         "openapi_examples")},
    **{f"jctl.checks.{name}": ("arazzo",) for name in ("arazzo", "arazzo_lists", "arazzo_inputs")},
}
_loaded: set[str] = set()


def load_checks(kind: FileKind | None = None) -> list[Check]:
    """Every registered check, importing the modules that register them (only those serving `kind`, if given)."""
    for name in CHECK_MODULES:
        if name in _loaded or (kind is not None and kind not in MODULE_KINDS.get(name, (kind,))):
            continue
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
        _loaded.add(name)
    return CHECKS


def run_checks(spec: SpecFile) -> Iterator[tuple[str, Finding]]:
    for registered in load_checks(spec.kind):
        if spec.kind not in registered.kinds:
            continue
        if registered.needs_expressions and not spec.workspace.expressions:
            continue
        for finding in registered.function(spec):
            yield finding.rule or registered.rule, finding
