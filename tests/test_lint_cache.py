"""`jctl run` lints a spec once: an unchanged spec whose referenced files are unchanged is not linted again, and
anything that could change the verdict (the spec, a referenced OpenAPI file, the linter itself) lints afresh."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import CASES

from jctl import lint, lint_cache
from jctl.engine.errors import InvalidSpec
from jctl.engine.start import load_definition


@pytest.fixture
def counted_lints(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """A private cache folder, and the list of files actually linted."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    linted: list[Path] = []
    real = lint.lint_file

    def counting(path: Path, *args: object, **kwargs: object) -> object:
        linted.append(path)
        return real(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(lint, "lint_file", counting)
    return linted


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The cross-file example: a journey whose operationRefs resolve through apis/shop.openapi.yaml."""
    root = tmp_path / "project"
    shutil.copytree(CASES / "crossfile" / "good", root / "flows")
    shutil.copytree(CASES / "crossfile" / "apis", root / "flows" / "apis")
    return root / "flows" / "order-flow.journey.yaml"


def test_an_unchanged_spec_is_linted_once(project: Path, counted_lints: list[Path]) -> None:
    first = load_definition(project)
    assert load_definition(project) == first
    assert counted_lints == [project]
    entry, = (Path(lint_cache.cache_dir())).glob("*.json")
    assert "shop.openapi.yaml" in entry.read_text()  # the referenced file is a dependency of the entry


def test_an_edited_spec_is_linted_again_and_its_errors_refused(project: Path, counted_lints: list[Path]) -> None:
    load_definition(project)
    project.write_text(project.read_text().replace("operationRef: shop.getOrder", "operationRef: shop.nope"))
    with pytest.raises(InvalidSpec):
        load_definition(project)
    with pytest.raises(InvalidSpec):  # errors are never remembered: shown on every run
        load_definition(project)
    assert counted_lints == [project] * 3


def test_an_edited_dependency_lints_the_spec_again(project: Path, counted_lints: list[Path]) -> None:
    load_definition(project)
    openapi = project.parent / "apis" / "shop.openapi.yaml"
    openapi.write_text(openapi.read_text().replace("operationId: getOrder", "operationId: fetchOrder"))
    with pytest.raises(InvalidSpec):
        load_definition(project)
    assert counted_lints == [project, project]


def test_an_entry_is_read_once_per_process_and_its_dependencies_hashed_every_time(
        project: Path, counted_lints: list[Path]) -> None:
    load_definition(project)
    load_definition(project)  # found clean: this process keeps the entry
    for entry in Path(lint_cache.cache_dir()).glob("*.json"):
        entry.unlink()
    load_definition(project)
    assert counted_lints == [project]
    openapi = project.parent / "apis" / "shop.openapi.yaml"
    openapi.write_text(openapi.read_text().replace("operationId: getOrder", "operationId: fetchOrder"))
    with pytest.raises(InvalidSpec):
        load_definition(project)
    assert counted_lints == [project, project]


def test_a_changed_linter_forgets_every_entry(project: Path, counted_lints: list[Path],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    load_definition(project)
    monkeypatch.setattr(lint_cache, "_linter_fingerprint", lambda: "another build of jctl")
    load_definition(project)
    assert counted_lints == [project, project]


def test_an_unwritable_cache_only_costs_time(project: Path, counted_lints: list[Path],
                                             monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    assert load_definition(project) == load_definition(project)
    assert counted_lints == [project, project]
