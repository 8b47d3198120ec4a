"""The state store: an append-only event log in SQLite (the default) or PostgreSQL.

Every state change is one row: when, which team and fault, what happened, who said so
(`source`: the bot, a poll, a webhook, ArgoCD), its facts as JSON, and the leadership term of
the daemon that wrote it. Nothing is updated or deleted, so the timeline an organizer reads is
the one the bot lived; current state is derived from it (`Store.events`, and the engine's fold).

Each append is one transaction. A leader's store is *fenced* (`lead(term)`): in the same
transaction as the insert it reads the current term under a share lock and refuses to write if
another process has taken the lease since (the new leader's term bump waits for, or is seen
by, that read), so a deposed daemon cannot add one event after its successor started, even
through a pooled connection that outlived its lease.

SQLite takes one writer at a time, and a writer that finds the file locked sleeps in SQLite's
busy handler (1, 2, 5 ... 100 ms) while the lock may already be free: with twenty teams
ticking at once, appends waited ~0.5 s each (issue 17, P1-daemon). So this process's writers
(the store's and the scheduler's job store) queue on one lock of their own, woken the moment
the writer before them commits; only another process's writer meets the busy handler.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Engine, create_engine, event, func, insert, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from bot.errors import FaultbotError, LeaseLost
from bot.game.clock import as_utc
from bot.game.events import Event, Facts, Kind, decode, encode
from bot.store.schema import EVENTS, JOBS_TABLE, LEASE, LEASE_ROW, ensure_schema

if TYPE_CHECKING:
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

F = TypeVar("F", bound=Facts)
WRITE = "faultbot_write"  # execution option: this transaction writes (SQLite takes its write lock at BEGIN)
SQLITE_BUSY_S = 60  # how long a SQLite writer waits for another (twenty starters at once, a slow disk)


@dataclass(frozen=True)
class Leadership:
    """Who holds the event's lease, as the state says: the term, the holder, since when."""

    term: int
    holder: str | None
    since: datetime | None


class Store:
    """Append-only event log."""

    def __init__(self, url: str) -> None:
        self.url = url
        shown = redacted(url)
        try:
            self.engine: Engine = _engine(url)
        except (ArgumentError, NoSuchModuleError, ImportError, ValueError) as exc:  # a config problem
            raise FaultbotError(f"event.state: cannot open {shown!r}: {exc}") from exc
        if self.dialect == "sqlite":
            _check_sqlite_path(url)
        # A tick that close() abandoned (the daemon stops without waiting for a slow forge) still
        # holds a connection; dispose() cannot close it, and back in the old pool it would stay
        # open until garbage-collected. Closed stores close what comes back instead.
        self._closed = threading.Event()  # shared with fenced() copies, like the engine
        event.listen(self.engine, "checkin", self._checked_in)
        self._writer = self.engine.execution_options(**{WRITE: True})
        # Shared with fenced() copies and the job store, like the engine (see the module's note).
        self._write_lock: AbstractContextManager[Any] = threading.RLock() if self.dialect == "sqlite" else nullcontext()
        self._term: int | None = None
        self._deposed = False
        try:
            ensure_schema(self.engine, self._writer)
        except SQLAlchemyError as exc:  # unreachable server, wrong password, unwritable file
            self.engine.dispose()
            raise FaultbotError(f"event.state: cannot open {shown!r}: {_first_line(exc)}") from exc
        except BaseException:
            self.engine.dispose()
            raise

    @property
    def dialect(self) -> str:
        """`sqlite` or `postgresql`."""
        return self.engine.dialect.name

    def append(self, team: str, facts: Facts, *, fault: str | None = None, source: str = "bot",
               at: datetime) -> Event:
        """Record one event and return it (with its id); LeaseLost if this leader was deposed."""
        kind, clean = encode(facts)
        moment = as_utc(at)
        with self._write_lock, self._writer.begin() as conn:
            term = self._fenced_term(conn)
            result = conn.execute(insert(EVENTS).values(at=moment, team=team, fault=fault, kind=kind,
                                                        source=source, facts=clean, term=term))
            key = result.inserted_primary_key
            assert key is not None, "an insert always has a primary key"
            row_id = int(key[0])
        return Event(row_id, moment, team, fault, source, decode(kind, clean), term)

    def append_all(self, team: str, entries: Sequence[tuple[Facts, str | None]], *, source: str = "bot",
                   at: datetime) -> list[Event]:
        """Record several events (facts, fault) in one transaction: all of them or none (fenced
        like `append`).

        The watcher writes "processed up to this head" together with what processing it
        found, so a crash between the two cannot leave a head marked seen but never searched.
        """
        moment = as_utc(at)
        recorded = []
        with self._write_lock, self._writer.begin() as conn:
            term = self._fenced_term(conn)
            for facts, fault in entries:
                kind, clean = encode(facts)
                result = conn.execute(insert(EVENTS).values(at=moment, team=team, fault=fault, kind=kind,
                                                            source=source, facts=clean, term=term))
                key = result.inserted_primary_key
                assert key is not None, "an insert always has a primary key"
                recorded.append(Event(int(key[0]), moment, team, fault, source, decode(kind, clean), term))
        return recorded

    def events(self, team: str | None = None, fault: str | None = None, kinds: tuple[Kind, ...] = ()) -> list[Event]:
        """Events in the order they were recorded, optionally filtered."""
        query = select(EVENTS).order_by(EVENTS.c.id)
        if team is not None:
            query = query.where(EVENTS.c.team == team)
        if fault is not None:
            query = query.where(EVENTS.c.fault == fault)
        if kinds:
            query = query.where(EVENTS.c.kind.in_(kinds))
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [Event(row.id, as_utc(row.at), row.team, row.fault, row.source, decode(row.kind, row.facts or {}),
                      row.term) for row in rows]

    def last(self, team: str, fault: str | None = None, kinds: tuple[Kind, ...] = ()) -> Event | None:
        """The latest matching event."""
        found = self.events(team, fault, kinds)
        return found[-1] if found else None

    def latest(self, team: str, facts_type: type[F], fault: str | None = None) -> F | None:
        """The facts of the latest event of one type (for a team, and a fault if given)."""
        found = self.last(team, fault, (facts_type.KIND,))
        return found.facts if found is not None and isinstance(found.facts, facts_type) else None

    def __iter__(self) -> Iterator[Event]:
        return iter(self.events())

    # -- leadership (the lease itself is in lease.py) ---------------------------------------

    def take_term(self, holder: str) -> int:
        """Start a new leadership term (the caller holds the lease): the term every append checks."""
        with self._write_lock, self._writer.begin() as conn:
            conn.execute(update(LEASE).where(LEASE.c.id == LEASE_ROW)
                         .values(term=LEASE.c.term + 1, holder=holder, since=func.now()))
            term = int(conn.execute(select(LEASE.c.term).where(LEASE.c.id == LEASE_ROW)).scalar_one())
        self.lead(term)
        return term

    def leadership(self) -> Leadership:
        """The current term and its holder (a standby shows it on /healthz)."""
        with self.engine.connect() as conn:
            row = conn.execute(select(LEASE).where(LEASE.c.id == LEASE_ROW)).one()
        return Leadership(row.term, row.holder, as_utc(row.since) if row.since else None)

    def lead(self, term: int) -> None:
        """Fence every later append of this store with `term`."""
        self._term, self._deposed = term, False

    def fenced(self, term: int) -> Store:
        """This store (same connections) fenced with `term` for good: one leadership term's daemon
        writes through it, so a tick of that term still running after the term ended stays refused
        even when this process leads again (the lease's store moves on to the new term; this one does not)."""
        twin = copy.copy(self)
        twin.lead(term)
        return twin

    def depose(self) -> None:
        """Refuse every later append (the lease is lost or given back) until `lead` again."""
        self._deposed = True

    @property
    def term(self) -> int | None:
        """The term this store writes under (None: not a leader's store)."""
        return self._term

    def _fenced_term(self, conn: Any) -> int | None:
        if self._deposed:
            raise LeaseLost(f"not the leader any more (term {self._term}); nothing written")
        if self._term is None:
            return None
        # FOR SHARE: a successor's term bump waits until this append commits, or this read sees it.
        current = conn.execute(select(LEASE.c.term).where(LEASE.c.id == LEASE_ROW)
                               .with_for_update(read=True)).scalar_one_or_none()
        if current != self._term:
            self._deposed = True
            raise LeaseLost(f"the lease moved on to term {current} (this process led term {self._term}); "
                            "nothing written")
        return self._term

    # -- the scheduler's jobs ---------------------------------------------------------------

    def job_store(self) -> SQLAlchemyJobStore:
        """APScheduler's job store on this database (its table is created with the schema)."""
        from bot.store.jobs import SerialJobStore

        return SerialJobStore(self._write_lock, engine=self.engine, tablename=JOBS_TABLE)

    def close(self) -> None:
        """Release connections, those still in use included once they are given back."""
        self._closed.set()
        self.engine.dispose()

    def _checked_in(self, dbapi_connection: Any, record: Any) -> None:
        if self._closed.is_set() and record is not None:
            record.invalidate()  # closes the driver's connection now, not at garbage collection


def redacted(url: str) -> str:
    """The URL with its password masked, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url if "@" not in url else "<unparsable URL>"


def _check_sqlite_path(url: str) -> None:
    """A SQLite file whose folder is missing, or that is a folder: say so before SQLite says
    "unable to open database file"."""
    database = make_url(url).database
    if not database or database == ":memory:":
        return
    path = Path(database)
    if path.is_dir():
        raise FaultbotError(f"event.state: {path} is a folder; name a file in it, e.g. sqlite:///{path / 'faultbot.db'}")
    if not path.parent.is_dir():
        raise FaultbotError(f"event.state: the folder {path.parent} does not exist; create it or change event.state")


def _first_line(exc: SQLAlchemyError) -> str:
    cause = getattr(exc, "orig", None) or exc
    return (str(cause).strip().splitlines() or [cause.__class__.__name__])[0]


def _engine(url: str) -> Engine:
    if make_url(url).get_backend_name() != "sqlite":
        # pre_ping: after a managed server's fail-over, pooled connections are dead; test them first.
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_S})
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_connect(connection: Any, _record: Any) -> None:
    # SQLAlchemy, not the driver, opens transactions (SQLAlchemy's recipe for pysqlite), so that
    # a write transaction can take the write lock at BEGIN: then a check-then-write (the schema,
    # a fenced append) cannot interleave with another writer's.
    connection.isolation_level = None
    cursor = connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_S * 1000}")  # first: the WAL switch below may wait
    # WAL lets the CLI read while the daemon writes; synchronous=FULL makes a kill -9 safe.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE) else "BEGIN")
