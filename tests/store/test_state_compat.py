"""State files written by faultbot 0.1 (before the event log was typed) open with this release.

`tests/fixtures/state-0.1/` holds real state files that 0.1's own code wrote: `demo.db` from
`faultbot demo --teams 2` (event log + APScheduler's job table), and `events.db`, the events
of seven 0.1 test runs that between them wrote every kind of event 0.1 knew (team names
suffixed by run). `*.status.json` is what 0.1's `faultbot status --cached --json` printed
for each; this release must print the same, with two deliberate changes (issue 14): new keys
(PagerDuty, hints with their text, why a fault was closed) and a bot revert's `fixed_by` is
faultbot, not the persona whose name the revert commit carries.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import JSON, Column, DateTime, Integer, MetaData, String, Table, create_engine, inspect, select, text
from sqlalchemy.pool import NullPool

from bot.app.cli import main
from bot.app.daemon import NOW, Daemon
from bot.catalog.faults import Catalog
from bot.config import load_config, sqlite_url_for
from bot.game.events import FACT_TYPES, Started, Unrecognised
from bot.game.timeline import fold
from bot.store.eventlog import Store
from bot.store.schema import SCHEMA_VERSION, VERSION

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "state-0.1"
NEW_KEYS = {"closed_reason", "hints", "incident", "mtta_s", "first_update_s",
            "regressed_at", "bot_revert_sha", "needs_organizer"}


def copy_state(tmp_path: Path, name: str) -> Path:
    """A private copy: opening a SQLite file in WAL mode changes its header."""
    state = tmp_path / f"{name}.db"
    shutil.copyfile(FIXTURES / f"{name}.db", state)
    config = tmp_path / "repos.yaml"
    config.write_text(f'event: {{name: old state, state: "sqlite:///{name}.db"}}\n'
                      'teams:\n  - {name: team-a, url: "file:///nonexistent/team-a.git"}\n', encoding="utf-8")
    return config


@pytest.mark.parametrize("name", ["events", "demo"])
def test_status_of_an_old_state_file_is_what_0_1_printed(tmp_path: Path, name: str,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    config = copy_state(tmp_path, name)
    assert main(["status", "--cached", "--json", "--config", str(config)]) == 0
    assert_as_0_1_printed(json.loads(capsys.readouterr().out), name)


def assert_as_0_1_printed(printed: list[dict[str, Any]], name: str) -> None:
    """`status --json` as 0.1 printed it for that state, with this release's deliberate changes."""
    expected = json.loads((FIXTURES / f"{name}.status.json").read_text(encoding="utf-8"))
    assert len(printed) == len(expected) >= 6
    reverted_by_bot = 0
    for old, new in zip(expected, printed, strict=True):
        assert set(new) - set(old) == NEW_KEYS
        if old["fix_kind"] == "bot-revert":
            assert new["fixed_by"] == {"name": "faultbot"} and old["fixed_by"]["name"] != "faultbot"
            old = old | {"fixed_by": {"name": "faultbot"}}
            reverted_by_bot += 1
        assert {key: new[key] for key in old} == old
    assert reverted_by_bot >= (1 if name == "events" else 0)


def test_every_old_event_decodes_to_its_type(tmp_path: Path) -> None:
    copy_state(tmp_path, "events")
    store = Store(sqlite_url_for(tmp_path / "events.db"))
    try:
        events = store.events()
        assert len({e.kind for e in events}) >= 26  # every kind 0.1 wrote in those runs
        assert not [e for e in events if isinstance(e.facts, Unrecognised)]
        assert all(type(e.facts) is FACT_TYPES[e.kind] for e in events)  # type: ignore[index]
        states = {i.state.value for i in fold(events)}
        assert {"fixed", "timed-out", "halted", "skipped"} <= states
    finally:
        store.close()


def test_an_old_state_file_is_upgraded_in_place_and_keeps_every_event(tmp_path: Path) -> None:
    copy_state(tmp_path, "events")
    url = sqlite_url_for(tmp_path / "events.db")
    with create_engine(url, poolclass=NullPool).connect() as connection:
        before = connection.execute(text("select id, kind, facts from faultbot_events order by id")).all()
        assert "faultbot_schema" not in inspect(connection).get_table_names()  # 0.1 had no version table
    store = Store(url)
    try:
        with store.engine.connect() as connection:
            assert connection.execute(select(VERSION.c.version)).scalars().all() == [SCHEMA_VERSION]
        events = store.events()
        assert [(e.id, e.kind) for e in events] == [(row.id, row.kind) for row in before]
        assert {e.term for e in events} == {None}  # written before terms existed
        added = store.append("team-a", Started(), at=datetime(2026, 12, 5, 15, 0, tzinfo=timezone.utc))
        assert added.id == before[-1].id + 1
    finally:
        store.close()
    reopened = Store(url)  # a second open finds it current and changes nothing
    assert len(reopened.events()) == len(before) + 1
    reopened.close()


def test_a_0_1_database_on_postgresql_is_upgraded_and_reads_as_0_1_printed(
        tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """0.1 took any SQLAlchemy URL: its tables, made by its own model, on PostgreSQL, with its events."""
    old = MetaData()
    old_events = Table("faultbot_events", old,  # 0.1's EventRow, column for column
                       Column("id", Integer, primary_key=True, autoincrement=True),
                       Column("at", DateTime(timezone=True), nullable=False, index=True),
                       Column("team", String(64), nullable=False, index=True),
                       Column("fault", String(128)),
                       Column("kind", String(64), nullable=False, index=True),
                       Column("source", String(32), nullable=False),
                       Column("facts", JSON, nullable=False))
    source = create_engine(sqlite_url_for(FIXTURES / "events.db"), poolclass=NullPool)
    with source.connect() as connection:
        rows = [dict(row._mapping) for row in connection.execute(select(old_events).order_by(old_events.c.id))]
    source.dispose()
    target = create_engine(postgres_url, poolclass=NullPool)
    with target.begin() as connection:
        old.create_all(connection)
        connection.execute(old_events.insert(), rows)
        connection.execute(text("SELECT setval('faultbot_events_id_seq', (SELECT max(id) FROM faultbot_events))"))
    target.dispose()
    config = tmp_path / "repos.yaml"
    config.write_text("event: {name: old state, state_env: OLD_STATE_URL}\n"
                      'teams:\n  - {name: team-a, url: "file:///nonexistent/team-a.git"}\n', encoding="utf-8")
    monkeypatch.setenv("OLD_STATE_URL", postgres_url)
    assert main(["status", "--cached", "--json", "--config", str(config)]) == 0
    assert_as_0_1_printed(json.loads(capsys.readouterr().out), "events")
    store = Store(postgres_url)
    try:
        assert len(store.events()) == len(rows) and {e.term for e in store.events()} == {None}
        assert store.append("team-a", Started(), at=datetime(2026, 12, 5, 15, 0, tzinfo=timezone.utc)).id == len(rows) + 1
    finally:
        store.close()


def test_the_daemon_starts_on_an_old_job_table(tmp_path: Path) -> None:
    """0.1's jobs name `bot.daemon:_poll_job`, which moved: the scheduler drops them and the
    daemon adds its own (jobs are derived from the log, so nothing is lost). Its polls and
    the job that watches for a halt live in memory; only wake-ups (`tick:<team>`) are stored."""
    config_path = copy_state(tmp_path, "demo")
    config, _ = load_config(config_path)
    store = Store(config.paths(config_path).state_url)
    daemon = Daemon(config, config_path, store, Catalog.load(), clock=_Fixed())
    daemon.start()
    daemon.stop()
    store.close()
    with create_engine(sqlite_url_for(tmp_path / "demo.db")).connect() as connection:
        jobs = [row[0] for row in connection.execute(text("select id from faultbot_jobs"))]
    assert jobs == []


def test_polls_an_earlier_release_stored_are_dropped_before_they_fire(tmp_path: Path) -> None:
    """Releases before issue 17 kept each team's poll and the halt watch in the job table:
    the daemon now makes them in memory, so the stored ones would poll every team twice."""
    config_path = copy_state(tmp_path, "demo")
    config, _ = load_config(config_path)
    store = Store(config.paths(config_path).state_url)
    earlier = BackgroundScheduler(jobstores={"default": store.job_store()}, timezone="UTC")
    earlier.start(paused=True)
    past = datetime(2026, 12, 5, 13, 0, tzinfo=timezone.utc)  # due: it would fire at once
    key = str(config_path.resolve())
    earlier.add_job("bot.app.daemon:_tick_job", "interval", seconds=30, args=[key, "team-a"], id="poll:team-a",
                    next_run_time=past)
    earlier.add_job("bot.app.daemon:_controls_job", "interval", seconds=1, args=[key], id="controls", next_run_time=past)
    earlier.add_job("bot.app.daemon:_tick_job", "date", run_date=datetime(2026, 12, 5, 18, 0, tzinfo=timezone.utc),
                    args=[key, "team-a"], id="tick:team-a")
    earlier.shutdown()
    daemon = Daemon(config, config_path, store, Catalog.load(), clock=_Fixed())
    daemon.start()
    try:
        scheduler = daemon.scheduler
        assert scheduler is not None
        assert {j.id for j in scheduler.get_jobs(jobstore="default")} == {"tick:team-a"}  # a wake-up is kept
        assert {j.id for j in scheduler.get_jobs(jobstore=NOW)} == {"controls"}  # no team prepared: no poll
    finally:
        daemon.stop()
        store.close()


class _Fixed:
    def now(self) -> datetime:
        return datetime(2026, 12, 5, 14, 0, tzinfo=timezone.utc)

    def to_real(self, moment: datetime) -> datetime:
        return moment
