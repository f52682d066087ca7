"""`jctl list --format json` streams the store's rows in batches and writes each batch as one string: the bytes are
exactly `print_json` of every summary document, in order, whatever the rows hold and however they fall into batches;
a damaged row is left out and named, the rows around it still listed."""

from __future__ import annotations

import contextlib
import io
import json
import sqlite3
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jctl.cli import views
from jctl.cli.output import print_json, print_json_batches
from jctl.documents import instance_summary
from jctl.store import Instance, InstanceSummary, NewEvent, Store

LAST_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z

names = st.sampled_from(["plain", "café ☕", 'q"uote\\', "tab\there", "\x7f", "\u2028", "\U0001f600"]) | st.text()
errors = st.none() | st.dictionaries(st.text(), st.none() | st.integers() | st.text() | st.lists(st.integers()),
                                     max_size=3)
rows = st.tuples(st.text(), names | st.integers(), st.sampled_from(["RUNNING", "SUCCEEDED", "FAILED"]) | names,
                 st.none() | names | st.integers(), st.integers(0, LAST_MS), st.integers(0, LAST_MS), errors)


def written(print_it: Any) -> str:
    stream = io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "stdout", stream)
        print_it()
    return stream.getvalue()


@given(st.lists(st.lists(rows, max_size=5), max_size=4))
def test_batches_are_written_as_print_json_of_every_summary(batches: list[list[Any]]) -> None:
    documents = [instance_summary(InstanceSummary._make(row)) for batch in batches for row in batch]
    streamed = written(lambda: print_json_batches(iter(batches), views.summaries_renderer()))
    assert streamed == written(lambda: print_json(documents))
    assert json.loads(streamed) == json.loads(json.dumps(documents, default=str))


def test_a_listing_over_many_batches_keeps_order_errors_and_names_the_damaged_row(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "store.db"
    with Store.open(db) as store:
        created = store.create_instances([
            (Instance(id="", journey_name=f"journey-{n % 3}", kind="Journey", definition={"spec": {}},
                      phase="FAILED" if n % 4 == 0 else "RUNNING", current_state=f"s{n % 5}", cursor={},
                      context={"n": n}, error={"code": "E", "n": n} if n % 4 == 0 else None),
             [NewEvent("started")], [])
            for n in range(11)])
        expected = [instance_summary(summary) for summary in store.instance_summaries()]
    damaged = created[5].id
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("UPDATE instances SET cursor = '{\"broken' WHERE id = ?", (damaged,))
    monkeypatch.setattr("jctl.store.db.LISTING_BATCH", 3)

    views.show_instances(None, None, 100, "json", db)
    listed = capsys.readouterr()
    assert listed.out == written(lambda: print_json([row for row in expected if row["journeyId"] != damaged]))
    assert [line for line in listed.err.splitlines() if damaged in line and "damaged" in line]
    assert [row["journeyId"] for row in json.loads(listed.out)] == [i.id for i in reversed(created) if i.id != damaged]

    views.show_instances("failed", None, 2, "json", db)
    assert [row["error"]["n"] for row in json.loads(capsys.readouterr().out)] == [8, 4]


def test_the_default_order_and_its_filters_read_through_an_index(tmp_path: Path) -> None:
    from jctl.store.db import _listing_query
    from jctl.store.rows import SUMMARY_SELECT

    with Store.open(tmp_path / "store.db") as store:
        for phase, journey in ((None, None), ("RUNNING", None), (None, "j"), ("RUNNING", "j")):
            sql, params = _listing_query(SUMMARY_SELECT, phase, journey, 50, (), None)
            plan = " / ".join(row[-1] for row in store.conn.execute(f"EXPLAIN QUERY PLAN {sql}", params))
            assert "USING INDEX" in plan and "TEMP B-TREE" not in plan, (phase, journey, plan)
