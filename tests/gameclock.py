"""A game on real repositories, ticked by hand at times the test sets.

`Daemon.tick` is the daemon's whole loop for one team (refresh from git, decide, act), run
here without the scheduler, with a clock the test moves: a 45-minute time limit takes no
45 minutes, and no assertion depends on how fast the machine is.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bot.app.compose import open_store
from bot.app.daemon import Daemon
from bot.catalog.faults import Catalog
from bot.config import load_config
from bot.game.timeline import FaultInstance, fold
from bot.store.eventlog import Store

T0 = datetime(2026, 12, 5, 14, 0, tzinfo=timezone.utc)


class SetClock:
    """A Clock that reads what the test set, and moves only when told to."""

    def __init__(self, origin: datetime = T0) -> None:
        self.origin = origin
        self.moment = origin

    def now(self) -> datetime:
        """The time the test set."""
        return self.moment

    def to_real(self, moment: datetime) -> datetime:
        """Unused without a scheduler; the wall clock keeps its own time."""
        return datetime.now(timezone.utc)

    def at(self, **delta: float) -> SetClock:
        """Set the time to the origin (T0 unless told) + delta."""
        self.moment = self.origin + timedelta(**delta)
        return self


class Game:
    """A prepared daemon for the teams of one repos.yaml, its store and its clock."""

    def __init__(self, daemon: Daemon, store: Store, clock: SetClock) -> None:
        self.daemon, self.store, self.clock = daemon, store, clock

    def tick(self, team: str = "team-a", **at: float) -> dict[str, FaultInstance]:
        """Move the clock to origin + `at` (if given), run one tick; the team's instances by fault."""
        if at:
            self.clock.at(**at)
        self.daemon.tick(team)
        return {i.fault: i for i in fold(self.store.events(team))}


@contextmanager
def ticking(config_path: Path, clock: SetClock | None = None) -> Iterator[Game]:
    """A daemon prepared for `config_path`, ticked by the test (no scheduler, no web)."""
    clock = clock or SetClock()
    config, _ = load_config(config_path)
    store = open_store(config, config_path)
    daemon = Daemon(config, config_path, store, Catalog.load(), clock)
    try:
        daemon.prepare()
        yield Game(daemon, store, clock)
    finally:
        for runtime in daemon.teams.values():
            runtime.deploy.close()
        store.close()
