"""One of many processes starting on the same fresh state at once (tests/test_schema_race.py).

The processes are forked from a forkserver that imported this module (and SQLAlchemy) once, so
twenty of them start in a fraction of a second instead of twenty interpreter start-ups.
"""

from __future__ import annotations

import os
import threading

# Imported once in the forkserver rather than in each of the twenty children: the drivers and
# dialects SQLAlchemy would otherwise import lazily on each child's first connect.
import psycopg  # noqa: F401
import sqlalchemy as sa
import sqlalchemy.dialects.postgresql.psycopg  # noqa: F401
import sqlalchemy.dialects.sqlite.pysqlite  # noqa: F401

SCHEMA_LOCK_KEY = 7310  # any constant shared by every process of the event


def schema() -> tuple[sa.MetaData, sa.Table]:
    """A stand-in for the event log's schema: a table with an index, as the store has."""
    metadata = sa.MetaData()
    events = sa.Table("faultbot_events", metadata,
                      sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
                      sa.Column("team", sa.String(100), nullable=False, index=True),
                      sa.Column("kind", sa.String(50), nullable=False))
    return metadata, events


def locked_engine(url: str) -> sa.Engine:
    """An engine whose transactions can take the store-wide write lock first.

    SQLite: pysqlite opens no transaction before DDL, so SQLAlchemy's documented recipe hands
    transaction control to SQLAlchemy and makes every BEGIN an IMMEDIATE one (the write lock).
    """
    if not url.startswith("sqlite"):
        return sa.create_engine(url)
    engine = sa.create_engine(url, connect_args={"timeout": 60})

    @sa.event.listens_for(engine, "connect")
    def _no_implicit_transactions(dbapi_connection: object, _record: object) -> None:
        dbapi_connection.isolation_level = None  # type: ignore[attr-defined]

    @sa.event.listens_for(engine, "begin")
    def _write_lock_first(conn: sa.Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def create_schema(conn: sa.Connection, metadata: sa.MetaData) -> None:
    """Check-then-create under a lock every starter takes, inside the caller's transaction."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(SCHEMA_LOCK_KEY)))
    metadata.create_all(conn)


def start(url: str, ready: threading.Barrier) -> None:
    """Connect, wait until every starter has, then create the schema and append one event."""
    engine = locked_engine(url)
    metadata, events = schema()
    with engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1")
        conn.rollback()
        ready.wait(timeout=60)
        with conn.begin():
            create_schema(conn, metadata)
            conn.execute(events.insert().values(team=f"pid-{os.getpid()}", kind="started"))
    engine.dispose()
