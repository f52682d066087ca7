"""Read `*.scenario.yaml` files with the spec loader, check them against specs/scenario.schema.json and turn them
into Scenario records; every problem is reported as file:line:col."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from jctl.errors import UsageError

SCHEMA_FILE = "scenario.schema.json"
SUFFIX = ".scenario.yaml"


@dataclass(frozen=True)
class Step:
    kind: str  # signal | advance | set | tick | cancel | expect
    body: Any
    line: int


@dataclass(frozen=True)
class Scenario:
    file: Path
    name: str
    line: int
    journey: Path
    input: Any
    mocks: dict[str, Any] | None
    config: dict[str, Any]
    seed: str | None
    start: str
    steps: list[Step] = field(default_factory=list)

    @property
    def title(self) -> str:
        return f"{self.file.name}::{self.name}"


class ScenarioFileError(UsageError):
    """A scenario file that cannot be read or does not follow the scenario schema (exit 2)."""


DEFAULT_START = "2026-01-01T00:00:00Z"


def scenario_files(paths: list[Path]) -> list[Path]:
    """The scenario files named, or found under the directories named, in a stable order."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.rglob(f"*{SUFFIX}") if ".venv" not in p.parts)
        elif path.exists():
            found.append(path)
        else:
            raise ScenarioFileError(f"{path}: no such file or directory")
    return found


def load_schema() -> dict[str, Any]:
    text = resources.files("jctl").joinpath("data", SCHEMA_FILE).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def load_scenarios(path: Path) -> list[Scenario]:
    from jsonschema import Draft202012Validator

    from jctl.spec.loader import LoadError, load_document

    try:
        document = load_document(path)
    except LoadError as exc:
        raise ScenarioFileError(f"{path}:{exc.line}:{exc.column}: {exc.message}", hint=exc.hint) from None
    if document.duplicate_keys:
        dup = document.duplicate_keys[0]
        raise ScenarioFileError(f"{path}:{dup.line}:{dup.column}: duplicate key (first at line {dup.first_line})")
    validator = Draft202012Validator(load_schema())
    errors = sorted(validator.iter_errors(document.data), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        details = []
        for error in errors[:10]:
            line, column = document.source_map.line_col(tuple(error.absolute_path))
            where = "/".join(map(str, error.absolute_path)) or "(top)"
            details.append(f"{path}:{line}:{column}: {where}: {error.message}")
        raise ScenarioFileError(f"{path}: does not follow the scenario schema", details=details,
                                hint="see specs/scenario.schema.json (add `# yaml-language-server: $schema=...`)")
    return _scenarios(path, document.data, document.source_map)


def _scenarios(path: Path, data: dict[str, Any], source_map: Any) -> list[Scenario]:
    base = path.parent
    journey = (base / data["journey"]).resolve()
    if not journey.is_file():
        line, column = source_map.line_col(("journey",))
        raise ScenarioFileError(f"{path}:{line}:{column}: journey {data['journey']} not found next to the file")
    scenarios = []
    for index, body in enumerate(data["scenarios"]):
        at = ("scenarios", index)
        mocks_value = body.get("mocks", data.get("mocks"))
        steps = [Step(next(iter(step)), next(iter(step.values())), source_map.line_col(at + ("steps", n))[0])
                 for n, step in enumerate(body["steps"])]
        scenarios.append(Scenario(
            file=path, name=body["name"], line=source_map.line_col(at)[0], journey=journey,
            input=body.get("input", {}), mocks=_mocks(base, mocks_value, path, source_map, at),
            config={**data.get("config", {}), **body.get("config", {})},
            seed=body.get("seed", data.get("seed")), start=body.get("start", DEFAULT_START), steps=steps))
    return scenarios


def _mocks(base: Path, value: Any, path: Path, source_map: Any, at: tuple[Any, ...]) -> dict[str, Any] | None:
    from jctl.tasks.mocks import MockError, load_mocks, validate_mocks

    if value is None:
        return None
    try:
        if isinstance(value, str):
            return load_mocks(base / value)
        return validate_mocks(value, str(path))
    except MockError as exc:
        line, column = source_map.line_col(at)
        raise ScenarioFileError(f"{path}:{line}:{column}: {exc.message}") from None
