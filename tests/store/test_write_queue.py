"""A daemon's writers queue in Python for SQLite's one write lock, never in SQLite's busy handler.

SQLite's busy handler sleeps (1, 2, 5 ... 100 ms) while the lock may already be free: with
twenty teams ticking at once, appends waited ~0.5 s each (issue 17, P1-daemon). Here SQLite's
busy timeout is 0, so a second writer that reached SQLite while the first holds the lock fails
with "database is locked" at once; queued in the process, it waits and then writes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from apscheduler.schedulers.background import BackgroundScheduler

from bot.game.events import Intent, Landed
from bot.store import eventlog
from bot.store.eventlog import Store
from bot.store.schema import EVENTS

T0 = datetime(2026, 12, 5, 14, 0, tzinfo=timezone.utc)


def _job(store: Store) -> tuple[Callable[[], Any], Callable[[], None]]:
    scheduler = BackgroundScheduler(jobstores={"default": store.job_store()}, timezone="UTC")
    scheduler.start(paused=True)  # running, so add_job writes to the store at once; paused, so nothing fires
    return lambda: scheduler.add_job(print, "date", run_date=T0, id="tick:team-b"), scheduler.shutdown


SECOND_WRITERS: dict[str, Callable[[Store], tuple[Callable[[], Any], Callable[[], None]]]] = {
    "an append": lambda store: (lambda: store.append("team-b", Landed(sha="b"), fault="f", at=T0), lambda: None),
    "the scheduler's job store": _job,
}


@pytest.mark.parametrize("second", list(SECOND_WRITERS))
def test_a_second_writer_waits_for_the_first_to_commit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        second: str) -> None:
    monkeypatch.setattr(eventlog, "SQLITE_BUSY_S", 0)  # SQLite refuses at once instead of sleeping
    store = Store(f"sqlite:///{tmp_path / 'state.db'}")
    write, stop = SECOND_WRITERS[second](store)
    inside, release = threading.Event(), threading.Event()

    def hold(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.startswith(f"INSERT INTO {EVENTS.name}") and threading.current_thread().name == "first":
            inside.set()
            release.wait(30)

    sa.event.listen(store.engine, "before_cursor_execute", hold)
    outcomes: dict[str, object] = {}

    def run(name: str, work: Callable[[], Any]) -> None:
        try:
            outcomes[name] = work()
        except Exception as exc:  # noqa: BLE001 - the test looks at it
            outcomes[name] = exc

    first = threading.Thread(target=run, name="first",
                             args=("first", lambda: store.append("team-a", Intent(sha="a"), fault="f", at=T0)))
    first.start()
    assert inside.wait(30)  # the first writer holds SQLite's write lock, mid-transaction
    other = threading.Thread(target=run, name="second", args=("second", write))
    other.start()
    other.join(1.0)  # long enough for an unqueued writer to reach SQLite and be refused
    release.set()
    first.join(30)
    other.join(30)
    assert not isinstance(outcomes["first"], Exception), outcomes["first"]
    assert not isinstance(outcomes["second"], Exception), outcomes["second"]
    assert [e.team for e in store.events()] == ["team-a"] + (["team-b"] if second == "an append" else [])
    stop()
    store.close()
