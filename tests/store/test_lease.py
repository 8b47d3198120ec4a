"""The leadership lease on both stores: one holder at a time, a new term per holder, a deposed
holder's checks and appends refused, on a real PostgreSQL and a real SQLite file."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.errors import FaultbotError, LeaseLost
from bot.game.events import Intent, Landed, Started
from bot.store.eventlog import Store
from bot.store.lease import FileLease, Lease, PostgresLease, open_lease
from tests.leases import depose

TIMEOUT = timedelta(seconds=15)
T0 = datetime(2026, 12, 5, 14, 0, tzinfo=timezone.utc)
WAIT_LIMIT_S = 60.0


@pytest.fixture
def stores(state_url: str) -> Iterator[tuple[Store, Store]]:
    """Two processes' worth of stores on one state."""
    first, second = Store(state_url), Store(state_url)
    try:
        yield first, second
    finally:
        first.close()
        second.close()


def acquire_within(lease: Lease, why: str) -> None:
    """Try for the lease until it is ours (a condition with a deadline, not a timed assertion)."""
    deadline = time.monotonic() + WAIT_LIMIT_S
    while not lease.try_acquire(wait=0.2):
        assert time.monotonic() < deadline, why


def test_one_holder_at_a_time_and_a_release_hands_it_over(stores: tuple[Store, Store]) -> None:
    first, second = (open_lease(store, TIMEOUT) for store in stores)
    assert first.try_acquire() and first.term == 1
    assert not second.try_acquire() and not second.try_acquire(wait=0.3)
    first.check()
    with pytest.raises(LeaseLost):
        second.check()
    assert stores[1].leadership().term == 1 and stores[1].leadership().holder == first.holder
    first.release()
    acquire_within(second, "the released lease never reached the standby")
    assert second.term == 2 and stores[0].leadership().term == 2
    second.check()
    with pytest.raises(LeaseLost):
        first.check()
    with pytest.raises(LeaseLost):  # given back: this store writes nothing as a leader any more
        stores[0].append("team-a", Started(), at=T0)
    second.release()


def test_the_leaders_events_carry_its_term_and_a_hand_run_command_none(stores: tuple[Store, Store]) -> None:
    leader_store, cli_store = stores
    lease = open_lease(leader_store, TIMEOUT)
    assert lease.try_acquire()
    leader_store.append("team-a", Started(), at=T0)
    cli_store.append("team-a", Started(), at=T0)  # `faultbot inject` by hand: not fenced, no term
    assert [e.term for e in cli_store.events()] == [1, None]
    lease.release()


def test_a_deposed_leader_can_neither_act_nor_write_once_a_successor_leads(stores: tuple[Store, Store]) -> None:
    old_store, new_store = stores
    old, new = open_lease(old_store, TIMEOUT), open_lease(new_store, TIMEOUT)
    assert old.try_acquire()
    old_store.append("team-a", Started(), at=T0)
    depose(old)
    acquire_within(new, "the standby never got the lease of a deposed leader")
    assert new.term == 2
    # The old leader has not looked yet: its next append is refused by the fence all the same,
    # in the append's own transaction.
    with pytest.raises(LeaseLost, match="term 2"):
        old_store.append("team-a", Started(), at=T0 + timedelta(seconds=1))
    with pytest.raises(LeaseLost):
        old.check()
    assert old.lost.is_set()
    new_store.append("team-a", Started(), at=T0 + timedelta(seconds=2))
    assert [e.term for e in new_store.events()] == [1, 2]
    new.release()


def test_a_scan_recorded_in_one_transaction_is_fenced_as_a_whole(stores: tuple[Store, Store]) -> None:
    """`append_all` (a head and what its scan found): all the events under the leader's term, or,
    once it is deposed, none of them."""
    old_store, new_store = stores
    old, new = open_lease(old_store, TIMEOUT), open_lease(new_store, TIMEOUT)
    assert old.try_acquire()
    written = old_store.append_all("team-a", [(Intent(sha="abc"), "f1"), (Landed(sha="abc"), "f1")], at=T0)
    assert [e.id for e in written] == [e.id for e in new_store.events()] and {e.term for e in written} == {1}
    depose(old)
    acquire_within(new, "the standby never got the lease of a deposed leader")
    with pytest.raises(LeaseLost, match="term 2"):
        old_store.append_all("team-a", [(Started(), None), (Started(), None)], at=T0 + timedelta(seconds=1))
    assert len(new_store.events()) == 2
    with pytest.raises(LeaseLost):
        old.check()
    new.release()


def test_a_terms_daemon_stays_refused_when_its_process_leads_again(stores: tuple[Store, Store]) -> None:
    """The runner hands each term's daemon `store.fenced(term)` and `lease.guard_for(term)`: a tick of
    term 1 still running after the process lost and re-took the lease (term 2) can neither act nor write."""
    store = stores[0]
    lease = open_lease(store, TIMEOUT)
    assert lease.try_acquire() and lease.term == 1
    first_store, first_guard = store.fenced(1), lease.guard_for(1)
    first_guard()
    first_store.append("team-a", Started(), at=T0)
    depose(lease)
    with pytest.raises(LeaseLost):
        lease.check()
    acquire_within(lease, "the same process could not lead again")
    assert lease.term == 2
    with pytest.raises(LeaseLost, match="term 1 is over"):
        first_guard()
    with pytest.raises(LeaseLost, match="term 2"):
        first_store.append("team-a", Started(), at=T0 + timedelta(seconds=1))
    lease.guard_for(2)()
    store.fenced(2).append("team-a", Started(), at=T0 + timedelta(seconds=2))
    assert [e.term for e in stores[1].events()] == [1, 2]
    lease.release()


def test_a_leader_cut_off_finds_out_at_its_next_check_and_stops_writing(stores: tuple[Store, Store]) -> None:
    store = stores[0]
    lease = open_lease(store, TIMEOUT)
    assert lease.try_acquire()
    lease.check()
    depose(lease)
    with pytest.raises(LeaseLost):
        lease.check()
    with pytest.raises(LeaseLost):  # no successor yet, and still nothing written: it knows now
        store.append("team-a", Started(), at=T0)
    assert stores[1].events() == []
    lease.release()


def test_the_lease_tells_the_server_to_drop_a_silent_leader_within_the_timeout(postgres_url: str) -> None:
    store = Store(postgres_url)
    lease = PostgresLease(store, TIMEOUT)
    try:
        assert lease.try_acquire()
        conn = lease._connection()  # the lease's own session, as the server sees it
        shown = {name: conn.execute(sa.text(f"SHOW {name}")).scalar_one()
                 for name in ("tcp_keepalives_idle", "tcp_keepalives_interval", "tcp_keepalives_count",
                              "tcp_user_timeout")}
        # Silence is noticed after ~2/3 of leader_timeout: 5 s idle, then 5 probes 1 s apart; 10 s unacknowledged.
        assert shown == {"tcp_keepalives_idle": "5", "tcp_keepalives_interval": "1", "tcp_keepalives_count": "5",
                         "tcp_user_timeout": "10000"}
    finally:
        lease.release()
        store.close()


def test_sqlite_locks_a_file_beside_the_state_and_memory_cannot_lead(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'state.db'}")
    lease = open_lease(store, TIMEOUT)
    assert isinstance(lease, FileLease) and lease.path == tmp_path / "state.db.lock"
    store.close()
    memory = Store("sqlite:///:memory:")
    with pytest.raises(FaultbotError, match="needs a SQLite file or PostgreSQL"):
        open_lease(memory, TIMEOUT)
    memory.close()
