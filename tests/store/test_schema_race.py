"""Concurrent first starts on a fresh state (issue 16 item 8: one of 20 `faultbot inject` crashed with
"table faultbot_events already exists"), shown with plain SQLAlchemy on both stores.

SQLAlchemy's `create_all` checks whether each table exists and then creates it: two starters can both
see "missing". `CREATE TABLE IF NOT EXISTS` does not save PostgreSQL either: two uncommitted creators
collide in its catalog. What holds on both: check and create in one transaction under a lock every
starter takes (PostgreSQL: a transaction advisory lock; SQLite: BEGIN IMMEDIATE), the recipe in
tests/schema_starter.py, which the store should adopt (these tests then call the store instead).
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Callable

import psycopg
import pytest
import sqlalchemy as sa

from tests import schema_starter
from tests.schema_starter import create_schema, schema

STARTERS = 20
WAIT_LIMIT_S = 60.0


def test_create_all_checks_then_creates_so_a_concurrent_start_collides(state_url: str) -> None:
    def another_start() -> None:
        other = sa.create_engine(state_url, poolclass=sa.NullPool)
        schema()[0].create_all(other)
        other.dispose()

    metadata, events = schema()
    # Fires after create_all decided the table is missing and before its CREATE TABLE: the moment
    # another process's start completes in the real race.
    sa.event.listen(events, "before_create", lambda *_args, **_kw: another_start(), once=True)
    engine = sa.create_engine(state_url, poolclass=sa.NullPool)
    with pytest.raises(sa.exc.DatabaseError, match=r'(table|relation) "?faultbot_events"? already exists'):
        metadata.create_all(engine)
    engine.dispose()


def test_if_not_exists_does_not_save_concurrent_creators_on_postgresql(postgres_url: str) -> None:
    create = sa.text("CREATE TABLE IF NOT EXISTS faultbot_events (seq serial PRIMARY KEY, team text)")
    failure = _second_creator_after_first_commits(postgres_url, lambda conn: conn.execute(create))
    assert isinstance(failure, sa.exc.DBAPIError)
    # The second creator passed the "exists?" test before the first committed, then hit the first's
    # row in pg_type (or pg_class) once it did.
    assert isinstance(failure.orig, psycopg.errors.UniqueViolation | psycopg.errors.DuplicateTable), failure


def test_an_advisory_lock_serialises_schema_creation_on_postgresql(postgres_url: str) -> None:
    metadata, events = schema()

    def start(conn: sa.Connection) -> None:
        create_schema(conn, metadata)
        conn.execute(events.insert().values(team="team-a", kind="started"))

    failure = _second_creator_after_first_commits(postgres_url, start, lock_wait="advisory")
    assert failure is None
    engine = sa.create_engine(postgres_url, poolclass=sa.NullPool)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(events)).scalar_one() == 2
    engine.dispose()


def _second_creator_after_first_commits(url: str, start: Callable[[sa.Connection], object],
                                        lock_wait: str | None = None) -> BaseException | None:
    """Run `start` in a first transaction left open, then in a second one (a thread) until the second
    waits on a lock (of type `lock_wait`, or any), then commit the first; the second's error, if any."""
    engine = sa.create_engine(url, pool_size=3)
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

    try:
        with engine.begin() as first:
            start(first)
            thread = threading.Thread(target=second)
            thread.start()
            _wait_until_blocked(first, second_pid, lock_wait)
        thread.join(timeout=WAIT_LIMIT_S)
        assert outcome, "the second creator never finished"
        return outcome[0]
    finally:
        engine.dispose()


def _wait_until_blocked(conn: sa.Connection, pid: list[int], lock_type: str | None) -> None:
    """Poll the server until the backend in `pid` waits for a lock (a condition, with a deadline)."""
    query = sa.text("SELECT count(*) FROM pg_locks WHERE pid = :pid AND NOT granted"
                    + (" AND locktype = :locktype" if lock_type else ""))
    deadline = time.monotonic() + WAIT_LIMIT_S
    while time.monotonic() < deadline:
        if pid and conn.execute(query, {"pid": pid[0], "locktype": lock_type}).scalar_one():
            return
        time.sleep(0.01)
    raise AssertionError(f"the second creator never waited on a {lock_type or 'any'} lock")


def test_twenty_processes_start_on_a_fresh_state_at_once(state_url: str) -> None:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["tests.schema_starter"])
    ready = context.Barrier(STARTERS + 1)
    starters = [context.Process(target=schema_starter.start, args=(state_url, ready)) for _ in range(STARTERS)]
    for starter in starters:
        starter.start()
    try:
        ready.wait(timeout=WAIT_LIMIT_S)  # all connected: they create the schema at the same moment
        for starter in starters:
            starter.join(timeout=WAIT_LIMIT_S)
    finally:
        for starter in starters:
            if starter.is_alive():
                starter.kill()
                starter.join()
    assert [starter.exitcode for starter in starters] == [0] * STARTERS  # tracebacks are in the captured stderr
    metadata, events = schema()
    engine = schema_starter.locked_engine(state_url)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count(sa.distinct(events.c.team)))).scalar_one() == STARTERS
    engine.dispose()
