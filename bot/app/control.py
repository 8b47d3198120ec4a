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

from bot.app.compose import Guard, event_lease, make_injector, open_store
from bot.app.daemon import Daemon, is_halted
from bot.app.faults import catalog_for
from bot.app.logs import setup_logging
from bot.app.runner import Runner
from bot.catalog.faults import Catalog
from bot.config import Config, load_config
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
class HaltResult:
    """What `halt` did."""

    teams: list[str]
    reverted: list[tuple[str, str, str | None]]
    deferred_to_daemon: bool
    already_halted: bool


def halt(config_path: Path, team: str | None = None, clock: Clock | None = None) -> HaltResult:
    """The kill switch: stop scheduling and revert every open fault (of one team or all)."""
    config, catalog = _load(config_path)
    if team is not None:
        config.team(team)  # a one-line error for an unknown team
    clock = clock or SystemClock()
    store = open_store(config, config_path)
    lease = event_lease(config, store)
    try:
        names = [team] if team else [t.name for t in config.teams]
        already = all(is_halted(store, n) for n in names)
        if not already:
            store.append(team or ALL_TEAMS, ev.Halt(), at=clock.now(), source="cli")
        if not lease.try_acquire():  # a daemon leads: it reverts within one poll
            return HaltResult(names, [], True, already)
        try:  # no daemon leads, and none can start to while we revert
            reverted = _revert_open(config, config_path, store, catalog, names, clock, lease.check)
        finally:
            lease.release()
        return HaltResult(names, reverted, False, already)
    finally:
        store.close()


def _revert_open(config: Config, config_path: Path, store: Store, catalog: Catalog, names: list[str],
                 clock: Clock, guard: Guard) -> list[tuple[str, str, str | None]]:
    reverted = []
    for name in names:
        open_faults = [i for i in fold(store.events(name)) if i.is_open]
        if not open_faults:
            continue
        injector = make_injector(config, config_path, config.team(name), store, clock, guard=guard)
        for instance in open_faults:
            sha = injector.revert(catalog.get(instance.fault), instance.injected_sha or "", "halt")
            reverted.append((name, instance.fault, sha))
    return reverted


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
