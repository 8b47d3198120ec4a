"""What a leadership lease built on a PostgreSQL session advisory lock can rely on (issue 13 item 2),
checked on the real server: the lock dies with its holder's process, a holder cut off by the server
finds out at its next check, and the lock belongs to a connection, not to a pooled checkout."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import psycopg
import sqlalchemy as sa

from tests.postgres import PostgresServer

LEASE_KEY = 7311
WAIT_LIMIT_S = 60.0
# Does this session hold the lease? Asked of pg_locks: calling pg_try_advisory_lock again would
# succeed for the holder and stack a second hold (session advisory locks are re-entrant).
HOLDS = ("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() "
         "AND granted AND objid = %s")
HOLDER = f"""
import os, sys, psycopg
conn = psycopg.connect(os.environ["LEASE_DSN"], autocommit=True)
print(conn.execute("SELECT pg_try_advisory_lock({LEASE_KEY})").fetchone()[0], flush=True)
sys.stdin.readline()
"""


def _dsn(url: str) -> str:
    return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _try_lock(conn: psycopg.Connection[tuple[object, ...]]) -> bool:
    row = conn.execute("SELECT pg_try_advisory_lock(%s)", (LEASE_KEY,)).fetchone()
    return bool(row and row[0])


def _wait_for_lock(conn: psycopg.Connection[tuple[object, ...]], why: str) -> None:
    """Try for the lock until it is ours (a condition polled with a deadline, not a timed assertion)."""
    deadline = time.monotonic() + WAIT_LIMIT_S
    while not _try_lock(conn):
        assert time.monotonic() < deadline, why
        time.sleep(0.01)


def test_a_session_advisory_lock_is_freed_when_its_holder_is_killed(postgres_url: str) -> None:
    with subprocess.Popen([sys.executable, "-c", HOLDER], env={**os.environ, "LEASE_DSN": _dsn(postgres_url)},
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as holder:
        try:
            assert holder.stdout is not None and holder.stdout.readline() == "True\n", holder.communicate()[1]
            with psycopg.connect(_dsn(postgres_url), autocommit=True) as standby:
                assert not _try_lock(standby)
                holder.kill()  # SIGKILL: no unlock, no goodbye to the server
                holder.wait(timeout=WAIT_LIMIT_S)
                # The server sees the socket close and ends the session: soon, not at once.
                _wait_for_lock(standby, "the dead holder's lock was never released")
                assert standby.execute(HOLDS, (LEASE_KEY,)).fetchone() == (1,)
        finally:
            holder.kill()


def test_a_holder_cut_off_by_the_server_finds_out_at_its_next_check(postgres_server: PostgresServer,
                                                                    postgres_url: str) -> None:
    with psycopg.connect(_dsn(postgres_url), autocommit=True) as leader, \
            psycopg.connect(_dsn(postgres_url), autocommit=True) as standby:
        assert _try_lock(leader) and leader.execute(HOLDS, (LEASE_KEY,)).fetchone() == (1,)
        pid = leader.info.backend_pid
        # What a failing-over managed server, an idle timeout or a network cut does to the leader.
        standby.execute("SELECT pg_terminate_backend(%s)", (pid,))
        _wait_for_lock(standby, "the cut-off leader's lock was never released")  # its backend exits soon after
        try:
            leader.execute(HOLDS, (LEASE_KEY,))
        except psycopg.OperationalError:
            pass  # the re-check before a side effect must treat an error as "not the leader"
        else:
            raise AssertionError("the cut-off leader's check answered as if it still held the lease")


def test_a_session_lock_stays_with_the_connection_after_the_pool_takes_it_back(postgres_url: str) -> None:
    engine = sa.create_engine(postgres_url, pool_size=1)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.pg_try_advisory_lock(LEASE_KEY))).scalar_one()
        # The pool's reset on check-in is a ROLLBACK: it does not unlock. The lease must live on a
        # connection of its own, held for as long as the daemon leads, never on a pooled checkout.
        with psycopg.connect(_dsn(postgres_url), autocommit=True) as other:
            assert not _try_lock(other)
        engine.dispose()  # closing the pooled connection is what frees it
        with psycopg.connect(_dsn(postgres_url), autocommit=True) as other:
            _wait_for_lock(other, "the lock outlived its connection")
    finally:
        engine.dispose()
