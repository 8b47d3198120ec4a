"""The tests' PostgreSQL is a real server: reached through SQLAlchemy and psycopg 3 over TCP with
a password, a new empty database per test, and many connections at once."""

from __future__ import annotations

import threading

import psycopg
import pytest
import sqlalchemy as sa
from psycopg.conninfo import make_conninfo

from tests.postgres import PostgresServer

EVENTS = sa.text("CREATE TABLE IF NOT EXISTS faultbot_events (id serial PRIMARY KEY, team text NOT NULL)")
# The schema lock the later store work needs (see tests/test_schema_race.py for why): without it,
# concurrent CREATE TABLE IF NOT EXISTS collide in PostgreSQL's catalog.
SCHEMA_LOCK = sa.text("SELECT pg_advisory_xact_lock(7310)")


def test_the_fixture_gives_a_real_postgresql_server(postgres_url: str) -> None:
    engine = sa.create_engine(postgres_url)
    try:
        with engine.begin() as conn:
            assert conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg"
            assert int(conn.execute(sa.text("SHOW server_version_num")).scalar_one()) >= 130000
            assert conn.execute(sa.text("SELECT host(inet_server_addr())")).scalar_one() == "127.0.0.1"
            assert conn.execute(sa.text("SELECT current_database()")).scalar_one() == sa.make_url(postgres_url).database
            conn.execute(EVENTS)
            ids = conn.execute(sa.text("INSERT INTO faultbot_events (team) VALUES ('team-a'), ('team-b') RETURNING id"))
            assert sorted(ids.scalars()) == [1, 2]
        with engine.connect() as conn:
            teams = conn.execute(sa.text("SELECT team FROM faultbot_events ORDER BY id")).scalars().all()
        assert teams == ["team-a", "team-b"]
    finally:
        engine.dispose()


def test_each_database_is_new_and_empty(postgres_server: PostgresServer, postgres_url: str) -> None:
    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(EVENTS)
    engine.dispose()
    with postgres_server.database() as other_url:
        assert other_url != postgres_url
        other = sa.create_engine(other_url)
        assert sa.inspect(other).get_table_names() == []
        other.dispose()
    assert sa.inspect(sa.create_engine(postgres_url, poolclass=sa.NullPool)).get_table_names() == ["faultbot_events"]


def test_the_server_wants_the_password(postgres_server: PostgresServer) -> None:
    wrong = make_conninfo(postgres_server.dsn("postgres"), password="not-the-password")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(wrong)


def test_twenty_connections_create_and_insert_at_once(postgres_url: str) -> None:
    clients = 20
    engine = sa.create_engine(postgres_url, pool_size=clients, max_overflow=0)
    connected, go = threading.Barrier(clients + 1), threading.Barrier(clients + 1)
    errors: list[BaseException] = []

    def client(number: int) -> None:
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
                conn.commit()
                connected.wait(timeout=60)
                go.wait(timeout=60)
                with conn.begin():
                    conn.execute(SCHEMA_LOCK)
                    conn.execute(EVENTS)
                    conn.execute(sa.text("INSERT INTO faultbot_events (team) VALUES (:team)"), {"team": f"team-{number}"})
        except BaseException as exc:  # noqa: BLE001 - reported below with the others
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    connected.wait(timeout=60)
    threads_seen = _backends(postgres_url)
    go.wait(timeout=60)
    for thread in threads:
        thread.join(timeout=60)
    try:
        assert errors == []
        assert threads_seen >= clients  # all 20 held a server connection at the same moment
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT team FROM faultbot_events")).scalars().all()
        assert sorted(rows) == sorted(f"team-{n}" for n in range(clients))
    finally:
        engine.dispose()


def _backends(url: str) -> int:
    """How many client connections the server has open to this URL's database."""
    probe = sa.create_engine(url, poolclass=sa.NullPool)
    with probe.connect() as conn:
        count = conn.execute(sa.text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                     "AND pid <> pg_backend_pid()")).scalar_one()
    probe.dispose()
    return int(count)
