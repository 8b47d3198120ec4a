"""Taking the event's lease away from its holder, as the world would, for the lease and standby tests."""

from __future__ import annotations

import sqlalchemy as sa

from bot.store.lease import LEASE_KEY, FileLease, Lease, PostgresLease


def depose(lease: Lease) -> None:
    """PostgreSQL: the server ends the holder's session (what a fail-over, an idle timeout or a network
    cut does); SQLite: the lock file goes away. The holder is not told: it finds out when it looks."""
    if isinstance(lease, PostgresLease):
        engine = sa.create_engine(lease.store.url, poolclass=sa.NullPool)
        with engine.connect() as conn:
            killed = conn.execute(sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND classid = 0 AND objid = CAST(:key AS oid)"), {"key": LEASE_KEY}).scalars().all()
        engine.dispose()
        assert killed == [True], "nobody held the lease"
    else:
        assert isinstance(lease, FileLease)
        lease.path.unlink()
