"""The plain writers (jctl.cli.output.print_line, plain_table) stand in for rich where rich would print text
unchanged, so the hot commands need not import it: their bytes must be rich's, and anything rich would style,
wrap or interpret must still go to rich."""

from __future__ import annotations

import io
import random
import sys

import pytest

from jctl.cli import output
from jctl.cli.views import print_instance_table
from jctl.documents import instance_summary
from jctl.store import InstanceSummary

HEADER = ("id", "journey", "phase", "state", "updated")


class Stream(io.TextIOWrapper):
    """What a pipe looks like to both: a UTF-8 text stream that is not a terminal."""

    def __init__(self) -> None:
        super().__init__(io.BytesIO(), encoding="utf-8", newline="\n", write_through=True)

    def text(self) -> str:
        self.flush()
        buffer = self.buffer
        assert isinstance(buffer, io.BytesIO)
        return buffer.getvalue().decode("utf-8")


def captured(monkeypatch: pytest.MonkeyPatch, print_it: object, stderr: bool = False) -> str:
    stream = Stream()
    monkeypatch.setattr(sys, "stderr" if stderr else "stdout", stream)
    assert callable(print_it)
    print_it()
    return stream.text()


def rich_table(rows: list[tuple[str, ...]]) -> None:
    from rich.table import Table

    table = Table(*HEADER)
    for row in rows:
        table.add_row(*row)
    output.console().print(table)


def summaries(rows: list[tuple[str, ...]]) -> list[InstanceSummary]:
    """Summaries whose table rows are `rows` (ids padded to full length, times as epoch ms)."""
    from jctl.clock import format_epoch_ms

    found = []
    for row_id, journey, phase, state, _ in rows:
        summary = InstanceSummary(row_id.ljust(32, "0"), journey, phase, state or None, 0, 1_764_000_000_123, None)
        found.append(summary)
        assert format_epoch_ms(summary.updated_ms)
    return found


def rows_of(instances: list[InstanceSummary]) -> list[tuple[str, ...]]:
    from jctl.clock import format_epoch_ms

    return [(i.id[:12], i.journey_name, i.phase, i.current_state or "", format_epoch_ms(i.updated_ms))
            for i in instances]


TRICKY_NAMES = ["expense-approval", "a", "[bold]x[/]", "smile:thumbs_up:", "tab\there", "née", "日本語", "two  spaces",
                " lead", "x" * 150, "a:100:b", "10:00:00", "", "back\\[slash", "ctrl\x07"]



def terminal_environment(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    """Exactly `env` of the variables rich reads to decide colour and width."""
    for name in ("NO_COLOR", "COLUMNS", "FORCE_COLOR", "TTY_COMPATIBLE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)

@pytest.mark.parametrize("env", [{"NO_COLOR": "1"}, {"COLUMNS": "60"}, {"COLUMNS": "200", "NO_COLOR": "1"},
                                 {"FORCE_COLOR": ""}])
def test_instance_tables_are_richs_byte_for_byte(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    terminal_environment(monkeypatch, env)
    pick = random.Random(14)
    tables = [[], [("abc", "expense-approval", "RUNNING", "awaitDecision", "")]]
    tables += [[(f"{n:012x}", pick.choice(TRICKY_NAMES), pick.choice(["RUNNING", "FAILED"]),
                 pick.choice(TRICKY_NAMES[:3] + ["", "wait"]), "") for n in range(pick.randint(1, 4))]
               for _ in range(40)]
    for rows in tables:
        instances = summaries(rows)
        documents = [instance_summary(instance) for instance in instances]
        mine = captured(monkeypatch, lambda: print_instance_table(documents))
        if not instances:
            assert mine == captured(monkeypatch, lambda: output.console().print("no instances"))
            continue
        assert mine == captured(monkeypatch, lambda: rich_table(rows_of(instances))), rows


def test_plain_tables_are_used_where_rich_prints_plainly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("COLUMNS", raising=False)
    simple = [("0123456789ab", "expense-approval", "RUNNING", "awaitDecision", "2026-01-01T10:00:00.000Z")]
    stream = Stream()
    monkeypatch.setattr(sys, "stdout", stream)
    assert output.plain_table(HEADER, simple) is not None
    assert output.plain_table(HEADER, [("0123456789ab", "[red]x", "RUNNING", "", "")]) is None  # markup
    assert output.plain_table(HEADER, [("0123456789ab", "x" * 200, "RUNNING", "", "")]) is None  # wider than 160
    monkeypatch.setenv("COLUMNS", "40")
    assert output.plain_table(HEADER, simple) is None


LINES = ["warning: the payload is 600.0 KiB (614400 bytes), over a quarter of the input limit (2.0 MiB)",
         "fired timer nap for sleeper 36198e74 -> SUCCEEDED", "[dim]markup[/]", "emoji :thumbs_up: here", "a\tb",
         "at 10:00:00 and :100:", "ünïcödé ·", "bell\x07", ""]


@pytest.mark.parametrize("markup", [False, True])
@pytest.mark.parametrize("stderr", [False, True])
def test_lines_are_richs_byte_for_byte(monkeypatch: pytest.MonkeyPatch, markup: bool, stderr: bool) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    for line in LINES:
        mine = captured(monkeypatch, lambda: output.print_line(line, stderr=stderr, markup=markup), stderr)
        theirs = captured(monkeypatch, lambda: output.console(stderr=stderr).print(line, markup=markup), stderr)
        assert mine == theirs, line
