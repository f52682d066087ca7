"""Writers on one store take turns on its lock file; the file never decides correctness (SQLite's lock does), so a
writer that cannot get it in time goes on without it."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from jctl.store import Store
from jctl.store import db as store_db


def test_the_lock_file_appears_with_the_first_write(tmp_path: Path) -> None:
    path = tmp_path / "jctl.db"
    with Store.open(path) as store:
        store.now()
        assert not Path(f"{path}-lock").exists()  # opening and reading write nothing beside the store
        store.advance_clock(timedelta(seconds=1))
    assert Path(f"{path}-lock").exists()


def test_a_writer_waits_for_the_one_holding_the_lock_file(tmp_path: Path) -> None:
    path = tmp_path / "jctl.db"
    with Store.open(path) as first, Store.open(path) as second:
        start = first.now()
        holding, release = threading.Event(), threading.Event()

        def hold() -> None:
            with first._writers_queue():
                holding.set()
                release.wait(5)

        holder = threading.Thread(target=hold)
        holder.start()
        assert holding.wait(5)
        done: list[float] = []
        writer = threading.Thread(target=lambda: done.append(
            second.advance_clock(timedelta(seconds=1)) and time.monotonic()))
        writer.start()
        time.sleep(0.3)
        assert not done  # still waiting for its turn
        released_at = time.monotonic()
        release.set()
        writer.join(10)
        holder.join(10)
        assert done and done[0] >= released_at
        assert second.now() == start + timedelta(seconds=1)


def test_a_lock_file_held_too_long_is_passed_by(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_db, "BUSY_TIMEOUT_S", 0.2)
    path = tmp_path / "jctl.db"
    with Store.open(path) as first, Store.open(path) as second:
        start = second.now()
        with first._writers_queue():  # held, but nothing written: SQLite's lock is free
            assert second.advance_clock(timedelta(seconds=5)) == start + timedelta(seconds=5)
