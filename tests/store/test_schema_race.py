"""Concurrent first starts on a fresh state (issue 16 item 8: one of 20 `faultbot inject` crashed with
"table faultbot_events already exists"): why the store locks (shown with plain SQLAlchemy), and that
the store's own schema creation holds, on both stores, with twenty processes.

SQLAlchemy's `create_all` checks whether each table exists and then creates it: two starters can both
see "missing". `CREATE TABLE IF NOT EXISTS` does not save PostgreSQL either: two uncommitted creators
collide in its catalog. The store (bot/store/schema.py) checks and creates in one transaction under a
lock every starter takes: a transaction advisory lock on PostgreSQL, BEGIN IMMEDIATE on SQLite.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone

import psycopg
import pytest
import sqlalchemy as sa

from bot.game.events import Started
from bot.store.eventlog import Store
from bot.store.schema import EVENTS, SCHEMA_LOCK_KEY
from tests.store import store_starter

STARTERS = 20
WAIT_LIMIT_S = 60.0
T0 = datetime(2026, 12, 5, 14, 0, tzinfo=timezone.utc)


def plain_schema() -> tuple[sa.MetaData, sa.Table]:
    """A table with an index, as the event log has, made the naive way."""
    metadata = sa.MetaData()
    events = sa.Table("faultbot_events", metadata,
                      sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
                      sa.Column("team", sa.String(100), nullable=False, index=True))
    return metadata, events


def test_create_all_checks_then_creates_so_a_concurrent_start_collides(state_url: str) -> None:
    def another_start() -> None:
        other = sa.create_engine(state_url, poolclass=sa.NullPool)
        plain_schema()[0].create_all(other)
        other.dispose()

    metadata, events = plain_schema()
    # Fires after create_all decided the table is missing and before its CREATE TABLE: the moment
    # another process's start completes in the real race.
    sa.event.listen(events, "before_create", lambda *_args, **_kw: another_start(), once=True)
    engine = sa.create_engine(state_url, poolclass=sa.NullPool)
    with pytest.raises(sa.exc.DatabaseError, match=r'(table|relation) "?faultbot_events"? already exists'):
        metadata.create_all(engine)
    engine.dispose()


def test_if_not_exists_does_not_save_concurrent_creators_on_postgresql(postgres_url: str) -> None:
    create = sa.text("CREATE TABLE IF NOT EXISTS faultbot_events (seq serial PRIMARY KEY, team text)")
    engine = sa.create_engine(postgres_url, pool_size=3)
    try:
        failure = _second_after_first_commits(engine, lambda conn: conn.execute(create), lock_type=None)
    finally:
        engine.dispose()
    assert isinstance(failure, sa.exc.DBAPIError)
    # The second creator passed the "exists?" test before the first committed, then hit the first's
    # row in pg_type (or pg_class) once it did.
    assert isinstance(failure.orig, psycopg.errors.UniqueViolation | psycopg.errors.DuplicateTable), failure


def test_a_store_opened_while_another_creates_the_schema_waits_for_it(postgres_url: str) -> None:
    """Deterministic: a second store opens exactly while the first is creating the tables."""
    second: list[Store | BaseException] = []
    seen_waiting: list[bool] = []

    def open_second() -> None:
        try:
            second.append(Store(postgres_url))
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            second.append(exc)

    def while_creating(_target: object, connection: sa.Connection, **_kw: object) -> None:
        thread = threading.Thread(target=open_second)
        thread.start()
        seen_waiting.append(_waits_for_the_schema_lock(connection))  # it queues behind our lock ...
        holder.append(thread)  # ... and goes on once we commit

    holder: list[threading.Thread] = []
    sa.event.listen(EVENTS, "before_create", while_creating, once=True)
    try:
        first = Store(postgres_url)
    finally:
        if sa.event.contains(EVENTS, "before_create", while_creating):
            sa.event.remove(EVENTS, "before_create", while_creating)
    holder[0].join(timeout=WAIT_LIMIT_S)
    assert seen_waiting == [True]
    (other,) = second
    assert isinstance(other, Store), other
    first.append("team-a", Started(), at=T0)
    other.append("team-b", Started(), at=T0)
    assert [e.team for e in first.events()] == ["team-a", "team-b"]
    first.close()
    other.close()


def _waits_for_the_schema_lock(connection: sa.Connection) -> bool:
    """Poll the server (on the creator's own connection) until another backend waits for the schema lock."""
    query = sa.text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                    "AND objid = CAST(:key AS oid)")
    deadline = time.monotonic() + WAIT_LIMIT_S
    while time.monotonic() < deadline:
        if connection.execute(query, {"key": SCHEMA_LOCK_KEY & 0xFFFFFFFF}).scalar_one():
            return True
        time.sleep(0.01)
    return False


def _second_after_first_commits(engine: sa.Engine, start: Callable[[sa.Connection], object],
                                lock_type: str | None) -> BaseException | None:
    """Run `start` in a first transaction left open, then in a second one (a thread) until the second
    waits on a lock (of `lock_type`, or any), then commit the first; the second's error, if any."""
    outcome: list[BaseException | None] = []
    second_pid: list[int] = []

    def second() -> None:
        try:
            with engine.begin() as conn:
                second_pid.append(conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one())
                start(conn)
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            outcome.append(exc)

    with engine.begin() as first:
        start(first)
        thread = threading.Thread(target=second)
        thread.start()
        query = sa.text("SELECT count(*) FROM pg_locks WHERE pid = :pid AND NOT granted"
                        + (" AND locktype = :locktype" if lock_type else ""))
        deadline = time.monotonic() + WAIT_LIMIT_S
        while not (second_pid and first.execute(query, {"pid": second_pid[0], "locktype": lock_type}).scalar_one()):
            assert time.monotonic() < deadline, "the second creator never waited on a lock"
            time.sleep(0.01)
    thread.join(timeout=WAIT_LIMIT_S)
    assert outcome, "the second creator never finished"
    return outcome[0]


def test_twenty_processes_open_a_fresh_state_at_once(state_url: str) -> None:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["tests.store.store_starter"])
    ready = context.Barrier(STARTERS)
    starters = [context.Process(target=store_starter.start, args=(state_url, ready)) for _ in range(STARTERS)]
    for starter in starters:
        starter.start()
    try:
        for starter in starters:
            starter.join(timeout=WAIT_LIMIT_S)
    finally:
        for starter in starters:
            if starter.is_alive():
                starter.kill()
                starter.join()
    assert [starter.exitcode for starter in starters] == [0] * STARTERS  # tracebacks are in the captured stderr
    store = Store(state_url)
    assert len({e.team for e in store.events()}) == STARTERS
    store.close()
