"""`jctl history` writes its table without rich where rich would print it plainly (JSON details with arrays
included): the bytes must be rich's table, and anything rich would style, wrap or read as markup still goes to rich."""

from __future__ import annotations

import json
import random
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_plain_output import TRICKY_NAMES, Stream, captured, terminal_environment

from jctl.cli import output
from jctl.cli.views import print_history

DATA = [None, {}, {"input": {"amount": 120, "claimId": "c-1"}}, {"items": ["a", "b"], "n": [1, 2]},
        {"flags": [True, None]}, {"tag": "[bold]x[/]"}, {"note": "née ☕"}, {"long": "x" * 300}, {"at": "10:00:00"},
        {"url": "http://host:8080/x"}, {"k": "a\tb"}, {"wide": "y" * 130}, {"list": [[1], {"a": [2]}]}]


def rich_history(events: list[dict[str, object]]) -> None:
    """The table as rich renders it (what the command printed before it had a plain writer)."""
    from rich.table import Table

    table = Table("#", "at", "event", "state", "details")
    for column in table.columns[:4]:
        column.no_wrap = True
    for event in events:
        data = event.get("data")
        details = json.dumps(data, default=str, ensure_ascii=False, sort_keys=True) if data else ""
        table.add_row(str(event["seq"]), event["at"], event["type"], event.get("state") or "",
                      details if len(details) <= 200 else details[:199] + "…")
    output.console().print(table)


@pytest.mark.parametrize("env", [{"NO_COLOR": "1"}, {"COLUMNS": "60", "NO_COLOR": "1"}, {"COLUMNS": "250"},
                                 {"FORCE_COLOR": ""}])
def test_history_tables_are_richs_byte_for_byte(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    terminal_environment(monkeypatch, env)
    pick = random.Random(10)
    kinds = ["journey.started", "step.waiting"]
    histories = [[{"seq": n + 1, "at": "2026-01-01T10:00:00.000Z", "type": pick.choice(kinds),
                   "state": pick.choice(TRICKY_NAMES[:4] + [None, "wait"]), "data": pick.choice(DATA)}
                  for n in range(pick.randint(1, 4))] for _ in range(60)]
    for events in histories:
        assert captured(monkeypatch, lambda: print_history(events)) == captured(monkeypatch,
                                                                                lambda: rich_history(events)), events


def test_a_plain_history_does_not_load_rich(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.setattr(sys, "stdout", Stream())
    events = [{"seq": 1, "at": "2026-01-01T10:00:00.000Z", "type": "journey.started", "state": "start",
               "data": {"items": ["a", "b"], "n": [1, 2]}}]
    for name in [module for module in sys.modules if module == "rich" or module.startswith("rich.")]:
        monkeypatch.delitem(sys.modules, name)
    print_history(events)
    assert "rich.table" not in sys.modules
    written = sys.stdout.text()  # type: ignore[attr-defined]
    assert "│ 1 │ 2026-01-01T10:00:00.000Z │ journey.started │ start │" in written


@given(st.text(alphabet="[]\\/ab#@1:= ", max_size=14))
def test_text_goes_plain_only_where_rich_prints_it_unchanged(text: str) -> None:
    if not output.plain_text(text):
        return
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NO_COLOR", "1")
        assert captured(patch, lambda: output.console().print(text, markup=True)) == text + "\n"
