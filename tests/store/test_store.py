"""The append-only event log, in a real SQLite file."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.config import resolve_url, sqlite_url_for
from bot.errors import FaultbotError
from bot.game.events import Intent, Kind, Landed, Started
from bot.store.eventlog import Store

T0 = datetime(2026, 12, 5, 14, 0, tzinfo=timezone.utc)


def test_events_survive_a_reopen_in_order(tmp_path: Path) -> None:
    url = sqlite_url_for(tmp_path / "state.db")
    store = Store(url)
    store.append("team-a", Intent(sha="abc"), fault="f1", at=T0)
    store.append("team-b", Intent(sha="def"), fault="f1", at=T0 + timedelta(seconds=1))
    store.append("team-a", Landed(sha="abc"), fault="f1", at=T0 + timedelta(seconds=2), source="reconcile")
    store.close()
    reopened = Store(url)
    events = reopened.events("team-a")
    assert [e.kind for e in events] == ["inject.intent", "inject.landed"]
    assert events[1].source == "reconcile" and events[1].at == T0 + timedelta(seconds=2)
    assert reopened.last("team-a", "f1", (Kind.INTENT,)).facts == Intent(sha="abc")  # type: ignore[union-attr]
    assert reopened.last("team-c") is None
    assert [e.team for e in reopened] == ["team-a", "team-b", "team-a"]


def test_naive_times_are_taken_as_utc(tmp_path: Path) -> None:
    store = Store(sqlite_url_for(tmp_path / "s.db"))
    event = store.append("t", Started(), at=datetime(2026, 1, 1, 12, 0))
    assert store.events("t")[0].at == event.at == datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)


def test_relative_sqlite_paths_are_beside_the_config(tmp_path: Path) -> None:
    assert resolve_url("sqlite:///faultbot.db", tmp_path) == f"sqlite:///{(tmp_path / 'faultbot.db').as_posix()}"
    assert resolve_url("sqlite:////abs/x.db", tmp_path) == "sqlite:////abs/x.db"
    assert resolve_url("postgresql+psycopg://db/x", tmp_path) == "postgresql+psycopg://db/x"


def test_a_bad_url_is_one_clear_line() -> None:
    with pytest.raises(FaultbotError, match="event.state: cannot open 'nosuchdb://x'"):
        Store("nosuchdb://x")
