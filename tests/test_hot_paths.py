"""The caches on the per-journey path of the main process (compiled schemas, parsed specs, decoded definitions,
secret paths, interpreter parts) answer exactly as the uncached work would: a spec or schema changed between two
uses is seen by the second, and what one caller is given cannot change what the next one gets."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from conftest import POLL_STATES, jsonata, write_journey

from jctl.engine import start
from jctl.engine.errors import InvalidInput, InvalidPayload
from jctl.payload_schema import _compiled, schema_violations
from jctl.engine.runner import Runner
from jctl.store import Store
from jctl.store import rows

STATES = {
    "ask": {"type": "wait", "wait": {
        "channel": "manual",
        "input": {"schema": {"type": "object", "required": ["answer"],
                             "properties": {"answer": {"type": "string"}, "pin": {"type": "string", "writeOnly": True}},
                             "additionalProperties": False}}},
        "next": "keep"},
    "keep": {"type": "transform", "transform": {"mapper": jsonata('{"answer": context.payload.answer}'),
                                                "target": {"kind": "var"}, "resultVar": "kept"}, "next": "done"},
    "done": {"type": "succeed", "outputVar": "kept"},
}
INPUT_SCHEMA = {"type": "object", "required": ["who"], "properties": {"who": {"type": "string"}}}


@pytest.fixture
def runner(tmp_path: Path) -> Runner:
    return Runner(Store.open(tmp_path / "jctl.db"))


def journey(tmp_path: Path, states: dict[str, Any] = STATES, schema: dict[str, Any] = INPUT_SCHEMA) -> Path:
    return write_journey(tmp_path, states, "ask", input={"schema": schema})


def test_a_schema_changed_in_place_is_compiled_again() -> None:
    schema: dict[str, Any] = {"type": "object", "properties": {"n": {"type": "integer"}}}
    assert schema_violations(schema, {"n": 1}) == []
    schema["properties"]["n"]["minimum"] = 5  # the same object, another schema
    assert schema_violations(schema, {"n": 1}) == ["n: 1 is less than the minimum of 5"]
    assert schema_violations(copy.deepcopy(schema), {"n": 7}) == []
    assert _compiled(copy.deepcopy(schema)) is _compiled(schema)  # equal content: compiled once
    assert _compiled({**schema, "required": ["n"]}) is not _compiled(schema)


def test_schemas_that_differ_only_in_a_value_type_are_not_confused() -> None:
    assert schema_violations({"const": 1}, 1) == []
    assert schema_violations({"const": True}, 1) != []  # True == 1 in Python, not in JSON Schema
    assert schema_violations({"const": 1.5}, 1) != []


def test_a_spec_edited_between_two_starts_is_read_again(runner: Runner, tmp_path: Path) -> None:
    path = journey(tmp_path)
    first = runner.start(path, {"who": "a"})
    assert first["currentState"] == "ask"
    journey(tmp_path, schema={**INPUT_SCHEMA, "properties": {"who": {"type": "integer"}}})
    with pytest.raises(InvalidInput):
        runner.start(path, {"who": "a"})  # the edited input schema refuses what the first one took
    edited = {**STATES, "ask": {**STATES["ask"], "next": "done"}}
    journey(tmp_path, edited)
    second = runner.start(path, {"who": "b"})
    done = runner.signal(second["journeyId"], {"answer": "yes"})
    # no `kept`: the edited spec skipped `keep`, and with no outputVar the output is the context
    assert done["phase"] == "SUCCEEDED" and done["output"] == {"who": "b", "payload": {"answer": "yes"}}
    assert runner.signal(first["journeyId"], {"answer": "yes"})["output"] == {"answer": "yes"}  # as it started


def test_load_definition_gives_each_caller_a_copy_and_starts_share_one(tmp_path: Path) -> None:
    path = journey(tmp_path)
    given = start.load_definition(path)
    given["spec"]["states"].clear()  # a caller may change its copy
    assert start.load_definition(path)["spec"]["states"].keys() == STATES.keys()
    assert start._definition(path)[1] is start._definition(path)[1]


def test_a_stored_definition_is_decoded_once_per_text(runner: Runner, tmp_path: Path) -> None:
    path = journey(tmp_path)
    one, two = (runner.start(path, {"who": "a"})["journeyId"] for _ in range(2))
    store = runner.store
    assert store.get_instance(one).definition is store.get_instance(two).definition
    journey(tmp_path, {**STATES, "ask": {**STATES["ask"], "next": "done"}})
    three = runner.start(path, {"who": "c"})["journeyId"]
    assert store.get_instance(three).definition["spec"]["states"]["ask"]["next"] == "done"
    assert store.get_instance(one).definition["spec"]["states"]["ask"]["next"] == "keep"
    assert rows.decoded_definition('{"a": 1}') == {"a": 1} and rows.decoded_definition('{"a": 2}') == {"a": 2}


def test_a_payload_schema_edited_in_the_spec_checks_later_instances(runner: Runner, tmp_path: Path) -> None:
    path = journey(tmp_path)
    first = runner.start(path, {"who": "a"})["journeyId"]
    strict = copy.deepcopy(STATES)
    strict["ask"]["wait"]["input"]["schema"]["properties"]["answer"]["enum"] = ["yes"]
    journey(tmp_path, strict)
    second = runner.start(path, {"who": "b"})["journeyId"]
    with pytest.raises(InvalidPayload):
        runner.signal(second, {"answer": "maybe"})
    assert runner.signal(first, {"answer": "maybe"})["phase"] == "SUCCEEDED"  # its own definition allows it


def test_secrets_stay_masked_in_every_answer(runner: Runner, tmp_path: Path) -> None:
    from jctl.masking import shown_history

    states = copy.deepcopy(STATES)
    states["keep"]["transform"]["mapper"] = jsonata('{"answer": context.payload.answer, "pin": context.payload.pin}')
    path = journey(tmp_path, states)
    for _ in range(2):  # the second answer comes from the cached secret paths
        started = runner.start(path, {"who": "a"})
        done = runner.signal(started["journeyId"], {"answer": "ok", "pin": "1234"})
        assert done["output"] == {"answer": "ok", "pin": "***"}
        instance = runner.store.get_instance(started["journeyId"])
        assert instance.output["pin"] == "1234"  # the instance keeps the real value
        shown = shown_history(runner.store.history(started["journeyId"]), instance.definition)
        assert "1234" not in repr([event.data for event in shown])


def test_secret_paths_are_worked_out_per_definition() -> None:
    from jctl.masking import definition_paths

    def definition(secret: str) -> dict[str, Any]:
        schema = {"type": "object", "properties": {secret: {"type": "string", "format": "password"}}}
        return {"spec": {"input": {"schema": schema}, "states": {}}}

    first, second = definition("pin"), definition("token")
    assert definition_paths(first) == [("pin",)]
    assert definition_paths(second) == [("token",)]  # another definition, its own paths
    definition_paths(first).clear()  # a caller changing its list changes nothing for the next
    assert definition_paths(first) == [("pin",)]


def test_a_spec_reached_through_a_symlink_is_keyed_by_its_real_path(tmp_path: Path) -> None:
    real = journey(tmp_path)
    (tmp_path / "links").mkdir()
    link = tmp_path / "links" / "alias.journey.yaml"
    link.symlink_to(real)
    key = start._spec_key(link)
    assert key == (str(real.resolve()), real.read_bytes())
    assert start._definition(link)[1] is start._definition(real)[1]  # one spec, one memo entry
    assert start._spec_key(tmp_path) is None and start._spec_key(tmp_path / "missing.yaml") is None
    other = write_journey(tmp_path, STATES, "ask", name="other")
    link.unlink()
    link.symlink_to(other)  # the link now names another spec: its own path and bytes
    assert start._spec_key(link) == (str(other.resolve()), other.read_bytes())


def test_clock_formatting_matches_the_calendar_for_any_instant_and_offset() -> None:
    import random
    from datetime import datetime, timedelta, timezone

    from jctl.clock import format_rfc3339, from_epoch_ms, to_epoch_ms

    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    draw = random.Random(14)
    for _ in range(5000):
        micros = draw.randrange(-30_000_000_000_000_000, 250_000_000_000_000_000)  # years 1019 .. 9892
        offset = timezone(timedelta(minutes=draw.randrange(-900, 900)))
        moment = (epoch + timedelta(microseconds=micros)).astimezone(offset)
        expected = moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        assert format_rfc3339(moment) == expected
        assert to_epoch_ms(moment) == micros // 1000
        assert from_epoch_ms(micros // 1000) == epoch + timedelta(milliseconds=micros // 1000)
    with pytest.raises(ValueError):
        format_rfc3339(datetime(2025, 1, 1))  # naive times are refused, as before


def test_real_path_resolves_as_realpath_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from jctl.fs import real_path

    (tmp_path / "a" / "b").mkdir(parents=True)
    target = tmp_path / "a" / "b" / "spec.yaml"
    target.write_text("x: 1\n")
    (tmp_path / "dirlink").symlink_to(tmp_path / "a")
    (tmp_path / "filelink").symlink_to(target)
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    monkeypatch.chdir(tmp_path)
    for path in (target, tmp_path / "dirlink" / "b" / "spec.yaml", tmp_path / "filelink", Path("dirlink/b/.."),
                 Path("filelink"), tmp_path / "missing" / "x.yaml", tmp_path / "loop", Path(".")):
        assert real_path(path) == os.path.realpath(path), path
    os.chmod(target, 0)  # unreadable: still resolved (root reads it anyway; either way the answer is realpath's)
    assert real_path(tmp_path / "filelink") == str(target.resolve())




def test_mocked_drives_of_interleaved_instances_keep_their_own_rules_and_counters(runner: Runner,
                                                                               tmp_path: Path) -> None:
    from datetime import timedelta

    def mocks(*states: str) -> dict[str, Any]:
        return {"mocks": [{"match": {"method": "GET", "url": "https://jobs.example.com/j/*"},
                           "respond": [{"status": 200, "body": {"state": state}} for state in states]}]}

    path = write_journey(tmp_path, POLL_STATES, "poll")
    slow = runner.start(path, {}, mocks=mocks("RUNNING", "RUNNING", "DONE"))["journeyId"]
    quick = runner.start(path, {}, mocks=mocks("RUNNING", "DONE"))["journeyId"]
    runner.advance(timedelta(seconds=30))  # both poll again, each answered from its own rules and counts
    assert runner.status(quick)["phase"] == "SUCCEEDED" and runner.status(slow)["currentState"] == "pause"
    runner.close()  # a closed runner drives on with a new client
    runner.advance(timedelta(seconds=30))
    assert runner.status(slow)["phase"] == "SUCCEEDED"
    assert runner.store.get_instance(slow).cursor["mockCounters"] == {"0": 3}


def test_durations_parse_once_per_text_and_errors_are_raised_every_time() -> None:
    from datetime import timedelta

    from jctl.clock import _parsed_duration, parse_duration

    first = parse_duration("PT90S")
    hits = _parsed_duration.cache_info().hits
    assert parse_duration("PT90S") is first and first == timedelta(seconds=90)
    assert _parsed_duration.cache_info().hits == hits + 1  # the second text was not parsed again
    assert parse_duration("PT1M") == timedelta(minutes=1)
    for _ in range(2):
        with pytest.raises(ValueError, match="months or years"):
            parse_duration("P1M")
        with pytest.raises(ValueError, match="expected an ISO-8601 duration string"):
            parse_duration({"not": "a string"})  # type: ignore[arg-type]


def test_a_mocked_journey_that_makes_no_call_loads_no_http(tmp_path: Path) -> None:
    import re

    from conftest import run_jctl

    spec = journey(tmp_path)
    (tmp_path / "mocks.yaml").write_text("mocks:\n- match: {url: 'https://x.example.com/*'}\n  respond: {status: 204}\n")
    db = str(tmp_path / "jctl.db")
    assert run_jctl("run", str(spec), "-i", '{"who": "a"}', "--db", db, "--detach", cwd=tmp_path).returncode == 0
    started = run_jctl("run", str(spec), "-i", '{"who": "a"}', "--mocks", "mocks.yaml", "--db", db, cwd=tmp_path,
                       env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert started.returncode == 0 and "ask" in started.stdout, started.stderr
    modules = set(re.findall(r"^import time:.*\|\s*(\S+)\s*$", started.stderr, re.MULTILINE))
    assert "jctl.engine.runner" in modules and "httpx" not in modules
