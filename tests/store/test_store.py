"""The append-only event log, in a real SQLite file and a real PostgreSQL database."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.config import resolve_url
from bot.errors import FaultbotError
from bot.game.events import Intent, Kind, Landed, Started
from bot.store.eventlog import Store
from bot.store.schema import SCHEMA_VERSION, VERSION

T0 = datetime(2026, 12, 5, 14, 0, tzinfo=timezone.utc)


def test_events_survive_a_reopen_in_order(state_url: str) -> None:
    url = state_url
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
    reopened.close()


def test_naive_times_are_taken_as_utc(state_url: str) -> None:
    store = Store(state_url)
    event = store.append("t", Started(), at=datetime(2026, 1, 1, 12, 0))
    assert store.events("t")[0].at == event.at == datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)
    store.close()


def test_an_appended_event_reads_back_as_written(state_url: str) -> None:
    store = Store(state_url)
    written = store.append("team-a", Landed(sha="abc", pushed_at=T0, binding={"ingress": "k8s/ingress.yaml"}),
                           fault="f1", at=T0, source="poll")
    (read,) = store.events()
    assert read == written and read.facts == Landed(sha="abc", pushed_at=T0, binding={"ingress": "k8s/ingress.yaml"})
    assert read.term is None  # not a leader's store: a command run by hand
    store.close()


def test_the_schema_is_versioned_and_a_newer_state_is_refused(state_url: str) -> None:
    store = Store(state_url)
    with store.engine.begin() as conn:
        assert conn.execute(sa.select(VERSION.c.version)).scalars().all() == [SCHEMA_VERSION]
        conn.execute(sa.update(VERSION).values(version=SCHEMA_VERSION + 1))  # what a later release would write
    store.close()
    with pytest.raises(FaultbotError, match=f"newer faultbot \\(schema version {SCHEMA_VERSION + 1}; this release "
                                            f"knows up to {SCHEMA_VERSION}\\)"):
        Store(state_url)


def test_a_password_never_shows_in_an_error(postgres_url: str) -> None:
    wrong = sa.make_url(postgres_url).set(password="hunter2-not-it")
    with pytest.raises(FaultbotError, match="password authentication failed") as caught:
        Store(wrong.render_as_string(hide_password=False))
    assert "hunter2" not in caught.value.message and "***" in caught.value.message


def test_relative_sqlite_paths_are_beside_the_config(tmp_path: Path) -> None:
    assert resolve_url("sqlite:///faultbot.db", tmp_path) == f"sqlite:///{(tmp_path / 'faultbot.db').as_posix()}"
    assert resolve_url("sqlite:////abs/x.db", tmp_path) == "sqlite:////abs/x.db"
    assert resolve_url("postgresql+psycopg://db/x", tmp_path) == "postgresql+psycopg://db/x"


def test_a_bad_url_is_one_clear_line() -> None:
    with pytest.raises(FaultbotError, match="event.state: cannot open 'nosuchdb://x'"):
        Store("nosuchdb://x")
