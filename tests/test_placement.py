"""misplaced-field and misplaced-state through the real pipeline: one finding per mistake, never also the schema's
"unknown field" and "missing field" for it, and a misspelling stays a schema "did you mean"."""

from __future__ import annotations

from pathlib import Path

from jctl.lint import lint_file

HEAD = "apiVersion: v1\nkind: Journey\nmetadata:\n  name: many\n  version: 0.1.0\nspec:\n  start: s0\n  states:\n"


def transform_state(index: int, result_line: str) -> str:
    return (f"    s{index}:\n      type: transform\n      transform:\n        mapper:\n          lang: jq\n"
            f"          expr: \".\"\n        target:\n          kind: var\n{result_line}      next: s{index + 1}\n")


def test_every_misplaced_field_of_a_long_file_is_one_finding(tmp_path: Path) -> None:
    path = tmp_path / "many.journey.yaml"
    states = "".join(transform_state(i, f"      resultVar: r{i}\n") for i in range(60))
    path.write_text(HEAD + states + "    s60:\n      type: succeed\n")
    diagnostics = lint_file(path)
    assert [d.rule for d in diagnostics] == ["misplaced-field"] * 60
    assert all(d.path.endswith(".resultVar") and "inside `transform`" in d.message for d in diagnostics)


def test_a_misspelt_field_stays_a_schema_finding(tmp_path: Path) -> None:
    path = tmp_path / "typo.journey.yaml"
    path.write_text(HEAD + transform_state(0, "        resultVar: r\n").replace("      next: s1", "      nxt: s1")
                    + "    s1:\n      type: succeed\n")
    [diagnostic] = [d for d in lint_file(path) if d.severity.value == "error"]
    assert diagnostic.rule == "schema"
    assert diagnostic.message == "unknown field `nxt` in transform state; did you mean `next`?"
