"""A ready PagerDuty stand-in for tests: two teams' services, their people, three REST keys."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from tests.servers.local_tls import local_tls
from tests.servers.pagerduty_api import PagerDutyServer, serve_pagerduty
from tests.servers.pagerduty_state import Service, User


class StepClock:
    """A clock tests move by hand; servers read it, nothing sleeps on it."""

    def __init__(self, start: datetime = datetime(2026, 6, 1, 9, 0, tzinfo=timezone.utc)) -> None:
        self.moment = start

    def now(self) -> datetime:
        return self.moment

    def advance(self, **delta: float) -> datetime:
        self.moment += timedelta(**delta)
        return self.moment


@dataclass(frozen=True)
class PagerDutyWorld:
    """The running server and what a test needs to talk to it."""

    server: PagerDutyServer
    clock: StepClock
    alice: User
    bob: User
    team_a: Service
    team_b: Service
    account_key: str = "acct-key-0123456789abcdef"
    readonly_key: str = "readonly-key-0123456789ab"
    alice_key: str = "alice-key-0123456789abcde"

    @property
    def tls(self) -> ssl.SSLContext:
        """What clients verify the server's certificate with."""
        return local_tls().client_context()


@contextmanager
def open_world(clock: StepClock, **limits: int) -> Iterator[PagerDutyWorld]:
    """Team-a's service (Alice on call) and team-b's; an account, a read-only and Alice's key."""
    with serve_pagerduty(clock.now, **limits) as server:
        alice = server.add_user("Alice Ng", "alice@team-a.example")
        bob = server.add_user("Bob Roy", "bob@team-a.example")
        world = PagerDutyWorld(server, clock, alice, bob,
                               server.add_service("team-a chat", team="team-a", on_call=alice),
                               server.add_service("team-b chat", team="team-b"))
        server.add_token(world.account_key)
        server.add_token(world.readonly_key, read_only=True)
        server.add_token(world.alice_key, user=alice)
        yield world
