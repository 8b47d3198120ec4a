"""The leadership lease: at most one process of an event acts (pushes, opens PRs, writes the log).

PostgreSQL: a *session advisory lock* held on a connection of its own, chosen over a lease row
with an expiry because
- it dies with its holder: a kill -9, an OOM kill or a lost node frees it as soon as the server
  sees the socket close (~10 ms, tests/store/test_postgres_lease.py), where an expiring row
  makes every fail-over wait out the whole expiry;
- no clocks are compared and no renewal thread must keep up: a leader stalled past its expiry
  (a GC pause, a starved pod) would go on acting on a row a standby already took over;
- a standby blocks *in the server's lock queue* (`pg_advisory_lock` under a `lock_timeout`),
  so it gets the lock the moment it is free, without polling.
What it needs, and gets here: a dedicated connection (a session lock outlives a pooled
checkout's reset), TCP keepalives on both ends and a TCP user timeout sized from
`leader_timeout`, so that a leader cut off by the network loses the lock on the server, and
finds out at its own next check, within that time; and a re-check through `pg_locks`, since
taking an advisory lock again would succeed (they are re-entrant). It does not survive a
transaction-pooling proxy (PgBouncer in transaction mode): connect to the server directly.

SQLite: an exclusive `flock` on a file beside the state file (the state is on this machine, so
is every process that can share it); it dies with its holder too. A check also makes sure the
file on disk is still the one locked (a deleted lock file would let a second process lock anew).

Both kinds start a new *term* in the state when taken (`Store.take_term`), and the store fences
every append of the leader with it, in the append's own transaction.
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import threading
import time
import zlib
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Connection, create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from bot.errors import FaultbotError, LeaseLost
from bot.store.eventlog import Store
from bot.store.schema import LEASE, LEASE_ROW

log = logging.getLogger("faultbot.lease")
LEASE_KEY = zlib.crc32(b"faultbot.lease") & 0x7FFFFFFF  # pg_locks shows a key < 2**31 as classid 0, objid KEY
# Asked of pg_locks, not by locking again: advisory locks are re-entrant, a second take would succeed.
HOLDS = text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() "
             "AND granted AND classid = 0 AND objid = CAST(:key AS oid) AND objsubid = 1")
LOCK_NOT_AVAILABLE = "55P03"  # lock_timeout expired: still a standby


def holder_name() -> str:
    """Who this process is, for the log and /healthz: the host (a pod's name) and the pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Lease:
    """Leadership of one event's state; `check()` before every side effect."""

    def __init__(self, store: Store, holder: str | None = None) -> None:
        self.store = store
        self.holder = holder or holder_name()
        self.term: int | None = None
        self.lost = threading.Event()  # set once a held lease is found gone: the daemon stops at once
        self._lock = threading.RLock()

    @property
    def held(self) -> bool:
        """Taken and not (known to be) lost."""
        return self.term is not None and not self.lost.is_set()

    def try_acquire(self, wait: float = 0.0) -> bool:
        """Take the lease if it is free, waiting up to `wait` seconds for it; start a new term."""
        with self._lock:
            if self.held:
                return True
            if not self._take(wait):
                return False
            try:
                self.term = self.store.take_term(self.holder)
            except SQLAlchemyError as exc:  # the state went away meanwhile: still a standby
                log.warning("lease taken, term not started", extra={"error": _line(exc)})
                self._drop()
                return False
            self.lost.clear()
            log.info("leader", extra={"term": self.term, "holder": self.holder})
            return True

    def check(self) -> None:
        """Raise LeaseLost unless this process still holds the lease (and its term is current)."""
        if self.lost.is_set() or self.term is None:
            raise LeaseLost("this process does not hold the event's leadership lease; nothing done")
        with self._lock:
            try:
                reason = self._still_ours()
            except (SQLAlchemyError, OSError) as exc:
                reason = f"the lease could not be checked ({exc.__class__.__name__}: {_line(exc)})"
            if reason:
                self._lose(reason)
                raise LeaseLost(f"lost the event's leadership lease (term {self.term}): {reason}; nothing done")

    def guard_for(self, term: int) -> Callable[[], None]:
        """`check()` for one term: it also refuses once that term is over, even if this process
        has led again since (a tick of the old term, still running, must not act for the new one)."""
        def guard() -> None:
            if self.term != term:
                raise LeaseLost(f"term {term} is over (this process now leads term {self.term}); nothing done")
            self.check()
        return guard

    def release(self) -> None:
        """Give the lease back (a clean stop): a standby takes over at once."""
        with self._lock:
            self.store.depose()
            self._drop()
            self.term = None

    def _lose(self, reason: str) -> None:
        log.error("leadership lost", extra={"term": self.term, "reason": reason})
        self.store.depose()
        self.lost.set()
        self._drop()

    # -- what each kind of lock does --------------------------------------------------------

    def _take(self, wait: float) -> bool:
        raise NotImplementedError

    def _still_ours(self) -> str | None:
        """None if still the holder, else why not."""
        raise NotImplementedError

    def _drop(self) -> None:
        raise NotImplementedError


class PostgresLease(Lease):
    """A session advisory lock on a dedicated, keepalive-tuned connection."""

    def __init__(self, store: Store, leader_timeout: timedelta, holder: str | None = None) -> None:
        super().__init__(store, holder)
        seconds = max(3, int(leader_timeout.total_seconds()))
        # Silence is noticed after idle + interval * count ~ 2/3 of leader_timeout, on both ends.
        self._keepalive = {"idle": max(1, seconds // 3), "interval": max(1, seconds // 15), "count": 5}
        self._user_timeout_ms = seconds * 2000 // 3
        libpq = {"keepalives": 1, "keepalives_idle": self._keepalive["idle"],
                 "keepalives_interval": self._keepalive["interval"], "keepalives_count": self._keepalive["count"],
                 "tcp_user_timeout": self._user_timeout_ms, "connect_timeout": max(2, seconds // 3)}
        self._engine = create_engine(make_url(store.url), poolclass=NullPool, connect_args=libpq)
        self._conn: Connection | None = None

    def _connection(self) -> Connection:
        if self._conn is None:
            conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            try:  # the server drops a silent leader's session, and with it the lock, as fast
                for name, value in (("tcp_keepalives_idle", self._keepalive["idle"]),
                                    ("tcp_keepalives_interval", self._keepalive["interval"]),
                                    ("tcp_keepalives_count", self._keepalive["count"]),
                                    ("tcp_user_timeout", self._user_timeout_ms)):
                    conn.execute(text(f"SET {name} = {int(value)}"))
            except DBAPIError as exc:  # an old server or a proxy: the client side still bounds it
                log.warning("server-side keepalives not set", extra={"error": _line(exc)})
            self._conn = conn
        return self._conn

    def _take(self, wait: float) -> bool:
        try:
            conn = self._connection()
            if wait <= 0:
                return bool(conn.execute(select(func.pg_try_advisory_lock(LEASE_KEY))).scalar_one())
            conn.execute(text(f"SET lock_timeout = {max(1, int(wait * 1000))}"))
            try:  # waits in the server's queue: granted the moment the holder's session ends
                conn.execute(select(func.pg_advisory_lock(LEASE_KEY)))
                return True
            except DBAPIError as exc:
                if getattr(exc.orig, "sqlstate", None) != LOCK_NOT_AVAILABLE:
                    raise
                conn.rollback()  # autocommit: nothing to undo on the server; SQLAlchemy's own state
                return False
        except SQLAlchemyError as exc:  # the server is away: stay a standby, try again later
            log.warning("lease not reachable", extra={"error": _line(exc)})
            self._drop()
            if wait > 0:
                time.sleep(wait)
            return False

    def _still_ours(self) -> str | None:
        conn = self._connection()
        held = conn.execute(HOLDS, {"key": LEASE_KEY}).scalar_one()
        term = conn.execute(select(LEASE.c.term).where(LEASE.c.id == LEASE_ROW)).scalar_one()
        if not held:
            return "the server no longer has this session's lock"
        if term != self.term:
            return f"term {term} started meanwhile"
        return None

    def _drop(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:
                conn.close()  # ends the session: frees the lock if it was still held
            except SQLAlchemyError:
                pass
        self._engine.dispose()


class FileLease(Lease):
    """An exclusive flock on `<state file>.lock`."""

    def __init__(self, store: Store, path: Path, holder: str | None = None) -> None:
        super().__init__(store, holder)
        self.path = path
        self._handle: IO[str] | None = None

    def _take(self, wait: float) -> bool:
        deadline = time.monotonic() + wait
        while True:
            handle = self.path.open("a+")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                if time.monotonic() >= deadline:
                    return False
                time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))
                continue
            if not self._same_file(handle):  # deleted between open and lock: take the new one
                handle.close()
                continue
            handle.seek(0)
            handle.truncate()
            handle.write(f"{self.holder}\n")
            handle.flush()
            self._handle = handle
            return True

    def _still_ours(self) -> str | None:
        if self._handle is None or not self._same_file(self._handle):
            return f"the lock file {self.path} was removed or replaced"
        current = self.store.leadership().term
        return None if current == self.term else f"term {current} started meanwhile"

    def _same_file(self, handle: IO[str]) -> bool:
        try:
            return os.fstat(handle.fileno()).st_ino == self.path.stat().st_ino
        except FileNotFoundError:
            return False

    def _drop(self) -> None:
        if self._handle is not None:
            handle, self._handle = self._handle, None
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()


def open_lease(store: Store, leader_timeout: timedelta) -> Lease:
    """The lease that fits the store: an advisory lock on PostgreSQL, a lock file beside SQLite."""
    if store.dialect == "postgresql":
        return PostgresLease(store, leader_timeout)
    database = make_url(store.url).database
    if store.dialect != "sqlite" or not database or database == ":memory:":
        raise FaultbotError(f"event.state: a daemon needs a SQLite file or PostgreSQL, not {store.dialect} "
                        f"{database or ''}".rstrip())
    return FileLease(store, Path(f"{database}.lock"))


def _line(exc: Any) -> str:
    return (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [exc.__class__.__name__])[0]
