"""`jctl list --format json` writes rows through its own renderer: the bytes are exactly the indented JSON of the
listing's documents, whatever the names, states and errors hold."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import run_jctl

from jctl.documents import instance_summary
from jctl.store import Instance, NewEvent, Store


def test_list_json_is_the_indented_document_of_every_row(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    rows = [
        ("plain", "RUNNING", "step1", None),
        ('quotes "and" \\ back\tslash', "RUNNING", None, None),
        ("naïve – café ☕ \U0001f600", "SUCCEEDED", "done ✓", None),
        ("failed", "FAILED", "boom", {"code": "E_X", "reason": "it broke: ü", "details": {"n": [1, 2]}}),
        ("\u2028line", "RUNNING", "s\n2", None),
    ]
    with Store.open(db) as store:
        store.create_instances([
            (Instance(id="", journey_name=name, kind="Journey", definition={"spec": {}}, phase=phase,
                      current_state=state, cursor={}, context={}, error=error), [NewEvent("started")], [])
            for name, phase, state, error in rows])
        expected = [instance_summary(summary) for summary in store.instance_summaries()]
    result = run_jctl("list", "--format", "json", "--db", str(db))
    assert result.returncode == 0, result.stderr
    assert result.stdout == json.dumps(expected, indent=2, default=str) + "\n"
    assert {row["journeyName"] for row in json.loads(result.stdout)} == {name for name, *_ in rows}


def test_an_empty_listing_is_an_empty_array(tmp_path: Path) -> None:
    result = run_jctl("list", "--format", "json", "--db", str(tmp_path / "empty.db"))
    assert (result.returncode, result.stdout) == (0, "[]\n")
