"""The loader under hostile input: every case ends in a structured diagnostic, never an exception or a hang.

The time bounds here are hang guards, generous for a loaded CI machine; bench/hostile.py prints real figures.
"""


from __future__ import annotations

import time
from typing import Any
from pathlib import Path

import pytest

from jctl.lint import lint_file
from jctl.spec.loader import MAX_BYTES, LoadError, parse_document

HANG_GUARD_S = 10.0


def diagnostics_for(tmp_path: Path, content: bytes | str, name: str = "x.journey.yaml"):
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    started = time.perf_counter()
    found = lint_file(path)
    return found, time.perf_counter() - started


def alias_bomb(levels: int = 9) -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for previous, current in zip("abcdefghij", "bcdefghijk"):
        if len(lines) > levels:
            break
        lines.append(f"{current}: &{current} [" + ",".join([f"*{previous}"] * 9) + "]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("case", "content", "rule", "message_part"),
    [
        ("alias bomb", alias_bomb(), "yaml-syntax", "more than 50,000 nodes"),
        ("deep flow nesting", "a: " + "[" * 20000 + "]" * 20000, "yaml-syntax", "nesting"),
        ("deep block nesting", "".join("  " * i + f"k{i}:\n" for i in range(400)) + "  " * 400 + "v: 1\n",
         "yaml-syntax", "nesting deeper"),
        ("binary", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "yaml-syntax", "binary"),
        ("not utf-8", b"apiVersion: v1\nkind: \xff\xfe\n", "yaml-syntax", "UTF-8"),
        ("empty", "", "yaml-syntax", "empty"),
        ("whitespace only", "  \n\n", "yaml-syntax", "empty"),
        ("top-level list", "- a\n- b\n", "yaml-syntax", "mapping at the top level"),
        ("top-level scalar", "just text\n", "yaml-syntax", "mapping at the top level"),
        ("two documents", "a: 1\n---\nb: 2\n", "yaml-syntax", "more than one YAML document"),
        ("unclosed flow", "a: [1, 2\n", "yaml-syntax", ""),
        ("bad indentation", "a:\n  b: 1\n c: 2\n", "yaml-syntax", ""),
        ("unknown alias", "a: *nope\n", "yaml-syntax", "alias"),
        ("tab indentation", "a:\n\tb: 1\n", "yaml-syntax", ""),
    ],
)
def test_hostile_input_gets_a_diagnostic_quickly(tmp_path, case, content, rule, message_part):
    found, elapsed = diagnostics_for(tmp_path, content)
    assert elapsed < HANG_GUARD_S, f"{case} took {elapsed:.2f}s"
    assert found, f"{case}: no diagnostic"
    assert found[0].rule == rule
    assert message_part in found[0].message
    assert found[0].line >= 1 and found[0].column >= 1


def test_oversized_file_is_refused_without_parsing(tmp_path):
    content = "a: " + "x" * (MAX_BYTES + 10) + "\n"
    found, elapsed = diagnostics_for(tmp_path, content)
    assert elapsed < HANG_GUARD_S
    assert [d.rule for d in found] == ["yaml-syntax"]
    assert "MB" in found[0].message


def test_multi_megabyte_spec_is_refused_by_node_count(tmp_path):
    states = "".join(f"    s{i}:\n      type: succeed\n" for i in range(60000))
    content = f"apiVersion: v1\nkind: Journey\nspec:\n  start: s0\n  states:\n{states}"
    assert len(content) > 1_500_000
    found, elapsed = diagnostics_for(tmp_path, content)
    assert elapsed < HANG_GUARD_S
    assert [d.rule for d in found] == ["yaml-syntax"]
    assert "more than 50,000 nodes" in found[0].message


def test_large_but_plausible_spec_loads():
    states = "".join(f"    s{i}:\n      type: succeed\n" for i in range(5000))
    document = parse_document(f"spec:\n  states:\n{states}", Path("big.journey.yaml"))
    assert len(document.data["spec"]["states"]) == 5000


def test_non_utf8_position_points_at_the_bad_byte(tmp_path):
    found, _ = diagnostics_for(tmp_path, b"apiVersion: v1\nkind: \xff\n")
    assert (found[0].line, found[0].column) == (2, 7)


def test_duplicate_key_is_reported_at_the_second_occurrence(tmp_path):
    found, _ = diagnostics_for(tmp_path, "apiVersion: v1\nkind: Journey\nspec:\n  start: a\n  start: b\n")
    duplicates = [d for d in found if d.rule == "duplicate-key"]
    assert [(d.line, d.column) for d in duplicates] == [(5, 3)]
    assert "first on line 4" in duplicates[0].message


def test_positions_are_recorded_for_keys_and_values():
    document = parse_document("a:\n  b: [1, 2]\n  c: |\n    text\n", Path("x.yaml"))
    assert document.source_map.line_col(("a", "b"), "key") == (2, 3)
    assert document.source_map.line_col(("a", "b", 1)) == (2, 10)
    assert document.source_map.positions[("a", "c")].style == "|"
    # a path below a scalar falls back to the nearest ancestor's key
    assert document.source_map.line_col(("a", "b", 1, "deeper")) == (2, 10)


def test_yaml_1_2_booleans_only():
    document = parse_document("a: on\nb: yes\nc: true\nd: 2024-01-01\ne: 0x1F\n", Path("x.yaml"))
    assert document.data == {"a": "on", "b": "yes", "c": True, "d": "2024-01-01", "e": 31}


def test_aliases_share_values_within_bounds():
    document = parse_document("base: &b\n  x: 1\ncopy: *b\nmerged:\n  <<: *b\n  y: 2\n", Path("x.yaml"))
    assert document.data["copy"] == {"x": 1}
    assert document.data["merged"] == {"x": 1, "y": 2}


def test_json_files_load_with_positions():
    document = parse_document('{\n  "a": {"b": [1, 2]}\n}\n', Path("x.journey.json"))
    assert document.data == {"a": {"b": [1, 2]}}
    assert document.source_map.line_col(("a", "b")) == (2, 14)


def test_load_error_carries_position():
    with pytest.raises(LoadError) as error:
        parse_document("a: 1\nb: [\n", Path("x.yaml"))
    assert error.value.line >= 2


class _Everything:
    def __contains__(self, item: object) -> bool:
        return True


def test_the_plain_text_fast_path_builds_what_the_resolver_builds(monkeypatch: pytest.MonkeyPatch) -> None:
    """Scalars that no implicit type can start with skip the resolver, and a number, boolean or null spelling is
    resolved once per process; with both shortcuts off, nothing changes."""
    import jctl.spec.loader as loader

    cases = Path(__file__).parent / "cases"
    corpus = Path(__file__).resolve().parents[2] / "shared" / "corpus"
    paths = sorted(cases.rglob("*.yaml")) + sorted(corpus.rglob("*.yaml"))
    texts = [(path, path.read_text(encoding="utf-8")) for path in paths]
    texts.append((Path("x.yaml"), "a: yes\nb: 1e3\nc: ~\nd: ''\ne: 2024-01-01\nf: .5\ng: !!str 3\nh: Off\ni: text\n"))
    fast = [_parsed(loader, path, text) for path, text in texts]
    monkeypatch.setattr(loader, "_IMPLICIT_FIRST", _Everything())
    monkeypatch.setattr(loader, "_IMPLICIT_VALUES", {})  # nor do the spellings already resolved once
    monkeypatch.setattr(loader, "_IMPLICIT_MEMO", 0)
    assert [_parsed(loader, path, text) for path, text in texts] == fast


def _parsed(loader: Any, path: Path, text: str) -> Any:
    try:
        document = loader.parse_document(text, path)
    except loader.LoadError as error:
        return error.message
    return document.data, document.source_map.positions


def test_a_document_read_for_its_values_alone_finds_the_same_positions_when_asked() -> None:
    """Linked files are read without positions; what they hold, refuse and (on first use) locate is the same."""
    cases = Path(__file__).parent / "cases"
    corpus = Path(__file__).resolve().parents[2] / "shared" / "corpus"
    paths = sorted(cases.rglob("*.yaml")) + sorted(cases.rglob("*.json")) + sorted(corpus.rglob("*.yaml"))
    texts = [(path, path.read_text(encoding="utf-8")) for path in paths]
    texts += [(Path("x.yaml"), text) for text in ("a: &x {q: 1}\nb: *x\nc:\n  <<: *x\n  d: 2\na: 3\n", "a: 1\n---\nb: 2\n",
                                                  "a: [" * 300, "a: *nope\n", "- &s x\n- *s\n")]
    assert len(texts) > 20
    for path, text in texts:
        try:
            positioned = parse_document(text, path)
        except LoadError as error:
            with pytest.raises(LoadError) as again:
                parse_document(text, path, positions=False)
            assert (again.value.message, again.value.line, again.value.column) == (error.message, error.line,
                                                                                   error.column)
            continue
        values_only = parse_document(text, path, positions=False)
        assert values_only.data == positioned.data, path
        assert values_only.source_map.positions == positioned.source_map.positions, path
        assert values_only.duplicate_keys == positioned.duplicate_keys, path
