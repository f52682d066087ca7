"""xmlDecode:v1: the documented XML->JSON mapping, the three targets, and refusal of DTDs/entities."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import run_jctl, write_journey

from jctl.tasks.plugins import PluginError
from jctl.tasks.xml_decode import decode


def test_mapping_rules() -> None:
    xml = ('<o:order xmlns:o="urn:orders" id="7"><item sku="a">2</item><item sku="b"/>'
           '<note>  hello </note><empty/>mixed</o:order>')
    assert decode(xml) == {"order": {
        "@id": "7",
        "item": [{"@sku": "a", "#text": "2"}, {"@sku": "b"}],
        "note": "hello",
        "empty": None,
        "#text": "mixed"}}


def test_single_child_is_not_an_array_and_values_stay_strings() -> None:
    assert decode("<a><b>1</b><c>true</c></a>") == {"a": {"b": "1", "c": "true"}}


@pytest.mark.parametrize("xml", [
    '<!DOCTYPE a [<!ENTITY x "boom">]><a>&x;</a>',
    '<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>',
    '<!DOCTYPE a SYSTEM "http://example.invalid/a.dtd"><a/>',
])
def test_dtds_and_entities_are_refused(xml: str) -> None:
    with pytest.raises(PluginError) as raised:
        decode(xml)
    assert raised.value.code == "XML_DECODE_ERROR" and "refused" in raised.value.reason


def test_malformed_xml_names_the_position() -> None:
    with pytest.raises(PluginError, match="does not parse: .*line 1"):
        decode("<a><b></a>")


def run(tmp_path: Path, task: dict[str, Any], context: dict[str, Any], code: int = 0) -> Any:
    spec = write_journey(tmp_path, {
        "decode": {"type": "task", "task": {"kind": "xmlDecode:v1", "sourceVar": "raw", **task}, "next": "done"},
        "done": {"type": "succeed"}}, "decode")
    result = run_jctl("run", str(spec), "--input", json.dumps(context), "--format", "json", cwd=tmp_path,
                      env={"JCTL_DB": str(tmp_path / "jctl.db")})
    assert result.returncode == code, result.stdout + result.stderr
    return json.loads(result.stdout)


def test_targets_var_path_and_whole_context(tmp_path: Path) -> None:
    raw = "<r><v>1</v></r>"
    as_var = run(tmp_path, {"target": {"kind": "var"}, "resultVar": "parsed"}, {"raw": raw, "keep": 1})
    assert as_var["output"] == {"raw": raw, "keep": 1, "parsed": {"r": {"v": "1"}}}
    at_path = run(tmp_path, {"target": {"kind": "context", "path": "doc.body"}}, {"raw": raw})
    assert at_path["output"]["doc"] == {"body": {"r": {"v": "1"}}}
    whole = run(tmp_path, {}, {"raw": raw, "gone": True})
    assert whole["output"] == {"r": {"v": "1"}}


def test_a_missing_source_or_bad_xml_fails_the_instance(tmp_path: Path) -> None:
    missing = run(tmp_path, {}, {}, code=1)
    assert missing["error"]["code"] == "XML_DECODE_ERROR" and "context.raw" in missing["error"]["reason"]
    bomb = run(tmp_path, {}, {"raw": '<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>'}, code=1)
    assert bomb["phase"] == "FAILED" and "refused" in bomb["error"]["reason"]
