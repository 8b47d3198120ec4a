"""The organizer's controls: run the daemon, halt (the kill switch) and resume.

`run` is a standby until it holds the event's leadership lease, then the daemon (runner.py).
`halt` works whether or not a daemon runs: it records the halt in the event log (the leader
sees it within one poll) and, when it can take the lease itself (no daemon leads), reverts
every open fault under that lease. Repeating it is safe: a halted team with no open fault
changes nothing.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.app.compose import Guard, ensure_workdir, event_lease, make_injector, open_store
from bot.app.daemon import Daemon, is_halted
from bot.app.faults import catalog_for
from bot.app.logs import setup_logging
from bot.app.runner import Runner
from bot.catalog.faults import Catalog
from bot.config import Config, load_config
from bot.errors import FaultbotError
from bot.game import events as ev
from bot.game.clock import Clock, SystemClock
from bot.game.events import ALL_TEAMS
from bot.game.timeline import fold
from bot.pager.pagerduty import IncidentSource
from bot.repo.injector import Injector
from bot.store.eventlog import Store


def _load(config_path: Path) -> tuple[Config, Catalog]:
    config, _ = load_config(config_path)
    return config, catalog_for(config, config_path)


def run_daemon(config_path: Path, *, stop: threading.Event | None = None, clock: Clock | None = None,
               web: bool = True, until_finished: bool = False, timeout: timedelta | None = None,
               on_progress: Callable[[str, dict[str, Any]], None] | None = None,
               log_file: Path | None = None, log_format: str = "json",
               pager_source: IncidentSource | None = None,
               instrument: Callable[[Injector], None] | None = None) -> Daemon | None:
    """Run the daemon (a standby first, while another process leads) until `stop` is set
    (SIGTERM/SIGINT set it from the CLI); the last daemon that led, if any."""
    config, _ = load_config(config_path)
    setup_logging(file=log_file, log_format=log_format, zone=ZoneInfo(config.event.timezone))
    runner = Runner(config_path, stop=stop, clock=clock, web=web, on_progress=on_progress,
                    pager_source=pager_source, instrument=instrument)
    return runner.run(until_finished=until_finished, timeout=timeout)


def install_signal_handlers(stop: threading.Event) -> None:
    """SIGTERM (docker stop) and SIGINT (Ctrl-C) end the daemon cleanly."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())


@dataclass(frozen=True)
class TeamHalt:
    """What `halt` did for one team: `outcome` is reverted, nothing-open, failed or deferred."""

    team: str
    outcome: str
    reverted: tuple[tuple[str, str | None], ...] = ()
    """(fault, revert sha or None when the change was already gone)."""
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        """For `halt --json`."""
        return {"team": self.team, "outcome": self.outcome, "error": self.error,
                "reverted": [{"fault": f, "sha": sha} for f, sha in self.reverted]}


@dataclass(frozen=True)
class HaltResult:
    """What `halt` did, team by team."""

    teams: list[TeamHalt]
    deferred_to_daemon: bool
    already_halted: bool

    @property
    def ok(self) -> bool:
        """Every team's open faults are reverted (or none was open)."""
        return all(t.outcome != "failed" for t in self.teams)


def halt(config_path: Path, team: str | None = None, clock: Clock | None = None) -> HaltResult:
    """The kill switch: stop scheduling and revert every open fault (of one team or all).

    Every team is tried and reported on its own: one team's unreachable forge or conflicted
    revert does not leave the others broken.
    """
    config, catalog = _load(config_path)
    if team is not None:
        config.team(team)  # a one-line error for an unknown team
    clock = clock or SystemClock()
    ensure_workdir(config, config_path)  # the reverts need the caches: one line now, before the halt is recorded
    store = open_store(config, config_path)
    lease = event_lease(config, store)
    try:
        names = [team] if team else [t.name for t in config.teams]
        already = all(is_halted(store, n) for n in names)
        if not already:
            store.append(team or ALL_TEAMS, ev.Halt(), at=clock.now(), source="cli")
        if not lease.try_acquire():  # a daemon leads: it reverts within one poll
            return HaltResult([TeamHalt(n, "deferred") for n in names], True, already)
        # No daemon leads, and none can start to while we revert.
        return HaltResult([_halt_team(config, config_path, store, catalog, n, clock, lease.check) for n in names],
                          False, already)
    finally:
        lease.release()  # held or not: its connection to PostgreSQL is closed either way
        store.close()


def _halt_team(config: Config, config_path: Path, store: Store, catalog: Catalog, name: str, clock: Clock,
               guard: Guard) -> TeamHalt:
    """Revert one team's open faults — every one, in the plan or injected by hand — under `guard`
    (halt's own hold on the lease)."""
    open_faults = [i for i in fold(store.events(name)) if i.is_open]
    if not open_faults:
        return TeamHalt(name, "nothing-open")
    reverted: list[tuple[str, str | None]] = []
    try:
        injector = make_injector(config, config_path, config.team(name), store, clock, guard=guard)
        for instance in open_faults:
            reverted.append((instance.fault, injector.revert(catalog.get(instance.fault), instance, "halt")))
    except FaultbotError as exc:
        return TeamHalt(name, "failed", tuple(reverted), exc.message)
    return TeamHalt(name, "reverted", tuple(reverted))


def resume(config_path: Path, team: str | None = None, clock: Clock | None = None) -> bool:
    """Lift a halt; True if something was halted."""
    config, _ = _load(config_path)
    if team is not None:
        config.team(team)
    store = open_store(config, config_path)
    try:
        names = [team] if team else [t.name for t in config.teams]
        if not any(is_halted(store, n) for n in names):
            return False
        store.append(team or ALL_TEAMS, ev.Resume(), at=(clock or SystemClock()).now(), source="cli")
        return True
    finally:
        store.close()
