"""The state database's tables, their version, and the one way they are created or upgraded.

Versioned with a small checked version table rather than Alembic, because:
- the schema is three small tables of an append-only log whose *facts* evolve inside a JSON
  column (decoded tolerantly by `bot.game.events`), so schema steps are rare and additive;
- the upgrade has to run inside the same locked transaction as the first creation (twenty
  processes may open a fresh state at once), at every open, with no command for the organizer
  to remember; a step here is a plain function in that transaction, on both dialects, while
  Alembic would bring its script directory and env.py as package data, a second version
  table, and a runner to call programmatically for the same three statements;
- "checked": a state written by a newer faultbot is refused in one line instead of being
  written into by code that does not know its shape.

Versions: 1 is faultbot 0.1 (no version table: `faultbot_events` and APScheduler's
`faultbot_jobs`); 2 adds the events' `term` column (the leadership term of the daemon that
wrote each event), `faultbot_lease` (the current leader's term) and `faultbot_schema`.

Creation is idempotent under concurrency: SQLAlchemy's `create_all` checks, then creates, so
two starters can both see "missing", and PostgreSQL's `CREATE TABLE IF NOT EXISTS` is not safe
either (two uncommitted creators collide in its catalog; tests/store/test_schema_race.py shows
both). What holds: check and create in one transaction behind a lock every starter takes,
`pg_advisory_xact_lock` on PostgreSQL and `BEGIN IMMEDIATE` on SQLite (see eventlog.py).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    DateTime,
    Engine,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Unicode,
    func,
    insert,
    inspect,
    select,
    text,
    update,
)

from bot.errors import FaultbotError

SCHEMA_VERSION = 2
# Advisory-lock keys: constants every faultbot process of the event shares, unlikely to be
# another application's in a shared database.
SCHEMA_LOCK_KEY = zlib.crc32(b"faultbot.schema")
LEASE_ROW = 1
JOBS_TABLE = "faultbot_jobs"

metadata = MetaData()

EVENTS = Table(
    "faultbot_events", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
    Column("team", String(64), nullable=False, index=True),
    Column("fault", String(128), nullable=True),
    Column("kind", String(64), nullable=False, index=True),
    Column("source", String(32), nullable=False),
    Column("facts", JSON, nullable=False),
    Column("term", Integer, nullable=True),  # v2: None for commands run by hand and for 0.1's events
)

LEASE = Table(
    "faultbot_lease", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("term", Integer, nullable=False),
    Column("holder", String(200), nullable=True),
    Column("since", DateTime(timezone=True), nullable=True),
)

VERSION = Table("faultbot_schema", metadata, Column("version", Integer, nullable=False))

# APScheduler 3's own job table (SQLAlchemyJobStore builds exactly these columns), declared here
# so it is created under the same lock as the rest; the job store then finds it present.
JOBS = Table(
    JOBS_TABLE, metadata,
    Column("id", Unicode(191), primary_key=True),
    Column("next_run_time", Float(25), index=True),
    Column("job_state", LargeBinary, nullable=False),
)


def _v1_to_v2(conn: Connection) -> None:
    conn.execute(text(f"ALTER TABLE {EVENTS.name} ADD COLUMN term INTEGER"))


# MIGRATIONS[n] takes a version-n database to version n+1; new tables come from create_all.
MIGRATIONS: dict[int, Callable[[Connection], None]] = {1: _v1_to_v2}


def found_version(conn: Connection) -> int:
    """The schema version of the database behind `conn`: 0 when empty, 1 for faultbot 0.1's."""
    tables = set(inspect(conn).get_table_names())
    if VERSION.name in tables:
        return int(conn.execute(select(func.max(VERSION.c.version))).scalar_one_or_none() or 0)
    return 1 if EVENTS.name in tables else 0


def ensure_schema(engine: Engine, writer: Engine) -> None:
    """Create or upgrade the schema to SCHEMA_VERSION; safe when many processes start at once.

    `writer` is the engine whose transactions take SQLite's write lock at BEGIN.
    """
    with engine.connect() as conn:
        current = found_version(conn)  # unlocked: the common case, already up to date, waits for nobody
    _refuse_newer(current)
    if current == SCHEMA_VERSION:
        return
    with writer.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(select(func.pg_advisory_xact_lock(SCHEMA_LOCK_KEY)))
        current = found_version(conn)  # again, under the lock: another starter may have done it
        _refuse_newer(current)
        for version in range(current, SCHEMA_VERSION) if current else ():
            MIGRATIONS[version](conn)  # an empty database skips them: create_all makes the latest shape
        metadata.create_all(conn)
        if conn.execute(select(LEASE.c.id).where(LEASE.c.id == LEASE_ROW)).first() is None:
            conn.execute(insert(LEASE).values(id=LEASE_ROW, term=0))
        if conn.execute(select(func.count()).select_from(VERSION)).scalar_one():
            conn.execute(update(VERSION).values(version=SCHEMA_VERSION))
        else:
            conn.execute(insert(VERSION).values(version=SCHEMA_VERSION))


def _refuse_newer(version: int) -> None:
    if version > SCHEMA_VERSION:
        raise FaultbotError(
            f"event.state: this state was written by a newer faultbot (schema version {version}; this "
            f"release knows up to {SCHEMA_VERSION}); run the newer release, or start a new state"
        )
