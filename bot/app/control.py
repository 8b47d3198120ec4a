"""The organizer's controls: run the daemon, halt (the kill switch) and resume.

`halt` works whether or not the daemon runs: it records the halt in the event log (the
daemon sees it within one poll) and, when no daemon holds the event's lock, reverts every
open fault itself. Repeating it is safe: a halted team with no open fault changes nothing.
"""

from __future__ import annotations

import fcntl
import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

from bot.app.compose import ensure_workdir, make_injector, open_store
from bot.app.courier import Courier, make_senders
from bot.app.daemon import Daemon, is_halted, wait_for
from bot.app.faults import catalog_for
from bot.app.feed import ConsoleFeed
from bot.app.live import LiveViews, bind_web, live_app
from bot.app.logs import setup_logging
from bot.catalog.faults import Catalog
from bot.config import Config, load_config
from bot.errors import FaultbotError
from bot.game import events as ev
from bot.game.clock import Clock, SystemClock
from bot.game.events import ALL_TEAMS
from bot.game.timeline import fold
from bot.pager.pagerduty import IncidentSource
from bot.store.eventlog import Store


def lock_path(config: Config, config_path: Path) -> Path:
    """The file a running daemon holds locked (one daemon per event)."""
    return ensure_workdir(config, config_path) / "daemon.lock"


@contextmanager
def daemon_lock(config: Config, config_path: Path) -> Iterator[IO[str]]:
    """Hold the event's daemon lock, or fail in one line if another daemon has it."""
    handle = lock_path(config, config_path).open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise FaultbotError("another faultbot daemon is already running for this event") from None
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield handle
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def daemon_running(config: Config, config_path: Path) -> bool:
    """Does a live daemon hold the event's lock?"""
    with lock_path(config, config_path).open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
    return False


def _load(config_path: Path) -> tuple[Config, Catalog]:
    config, _ = load_config(config_path)
    return config, catalog_for(config, config_path)


def run_daemon(config_path: Path, *, stop: threading.Event | None = None, clock: Clock | None = None,
               web: bool = True, until_finished: bool = False, timeout: timedelta | None = None,
               on_progress: Callable[[str, dict[str, Any]], None] | None = None,
               log_file: Path | None = None, log_format: str = "json",
               pager_source: IncidentSource | None = None) -> Daemon:
    """Run the daemon until `stop` is set (SIGTERM/SIGINT set it from the CLI)."""
    config, catalog = _load(config_path)
    setup_logging(file=log_file, log_format=log_format, zone=ZoneInfo(config.event.timezone))
    stop = stop or threading.Event()
    store = open_store(config, config_path)
    with closing(store), daemon_lock(config, config_path):
        clock = clock or SystemClock()
        daemon = Daemon(config, config_path, store, catalog, clock, on_progress, pager_source)
        server = None
        if web:  # bound before anything is recorded: a busy port leaves the event untouched
            views = LiveViews(config, store, catalog, clock)
            server = bind_web(config, lambda: live_app(config, views, diff=daemon.fault_diff,
                                                       request_tick=daemon.request_tick, health=daemon.health,
                                                       delivered=daemon.delivered))
        feed = ConsoleFeed(store).start()
        senders = make_senders(config)
        courier = Courier(store, clock, senders).start() if senders else None
        try:
            daemon.prepare()
            if server is not None:
                server.start()
                daemon.web_url = server.url
                feed.say(f"scoreboard at {server.url}/ (public: incidents, never faults)", url=server.url)
                token_env = config.web.organizer_token_env
                feed.say(f"organizer view at {server.url}/admin (token from ${token_env})" if token_env and
                         os.environ.get(token_env) else "organizer view off: set web.organizer_token_env and that "
                         "variable to serve /admin")
            daemon.start()
            if until_finished:
                wait_for(daemon.finished, stop, timeout or timedelta(hours=24))
            else:
                stop.wait()
        finally:
            # Stop taking work first (webhooks), then the daemon (its ticks), then what reads the log.
            if server is not None:
                server.stop()
            daemon.stop()
            if courier is not None:
                courier.stop()
            feed.stop()
            feed.say("faultbot stopped; the game resumes where it left off at the next `faultbot run`")
    return daemon


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
    store = open_store(config, config_path)
    try:
        names = [team] if team else [t.name for t in config.teams]
        already = all(is_halted(store, n) for n in names)
        if not already:
            store.append(team or ALL_TEAMS, ev.Halt(), at=clock.now(), source="cli")
        if daemon_running(config, config_path):
            return HaltResult([TeamHalt(n, "deferred") for n in names], True, already)
        return HaltResult([_halt_team(config, config_path, store, catalog, n, clock) for n in names], False, already)
    finally:
        store.close()


def _halt_team(config: Config, config_path: Path, store: Store, catalog: Catalog, name: str, clock: Clock) -> TeamHalt:
    """Revert one team's open faults — every one, in the plan or injected by hand."""
    open_faults = [i for i in fold(store.events(name)) if i.is_open]
    if not open_faults:
        return TeamHalt(name, "nothing-open")
    reverted: list[tuple[str, str | None]] = []
    try:
        injector = make_injector(config, config_path, config.team(name), store, clock)
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
