"""One `faultbot run` process: a standby until it holds the event's lease, then the daemon.

Several may run against one state (two pods of a Deployment, or a spare machine): the lease
(bot/store/lease.py) lets exactly one act. The others wait as standbys. A standby serves
`/healthz` as `standby` with HTTP 200 (a 503 would make Kubernetes restart a healthy spare) and
the same read-only views (scoreboard, /api/status, /metrics) from the shared state; it takes
over the moment the lease is free, or within `leader_timeout` of a leader gone silent.

A leader re-checks the lease before every side effect (the guard handed to every adapter that
writes to a team's repository, and the store's fence on every event) and on a heartbeat. Once
the lease is found lost, every further side effect is refused, the scheduler is stopped and
the process waits as a standby again.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.app.compose import ensure_workdir, event_lease, open_store
from bot.app.courier import Courier, make_senders
from bot.app.daemon import Daemon
from bot.app.faults import catalog_for
from bot.app.feed import ConsoleFeed
from bot.app.live import LiveViews, bind_web, live_app
from bot.config import load_config
from bot.errors import FaultbotError, LeaseLost
from bot.game import events as ev
from bot.game.clock import Clock, SystemClock
from bot.game.events import ALL_TEAMS
from bot.pager.pagerduty import IncidentSource
from bot.repo.injector import Injector
from bot.store.eventlog import Store
from bot.store.lease import Lease
from bot.web.server import BackgroundServer

if TYPE_CHECKING:
    from bot.web.webhooks import Delivery

log = logging.getLogger("faultbot.runner")
HEARTBEAT_S = 0.5  # how often an idle leader re-checks its lease (and whether its game is over)


class Runner:
    """Waits for the lease, leads until stopped or deposed, and serves the web side throughout."""

    def __init__(self, config_path: Path, *, stop: threading.Event | None = None, clock: Clock | None = None,
                 web: bool = True, on_progress: Callable[[str, dict[str, Any]], None] | None = None,
                 pager_source: IncidentSource | None = None,
                 instrument: Callable[[Injector], None] | None = None) -> None:
        self.config, _ = load_config(config_path)
        self.catalog = catalog_for(self.config, config_path)
        self.config_path = config_path
        self.stop = stop or threading.Event()
        self.clock = clock or SystemClock()
        self.web = web
        self.on_progress = on_progress
        self.pager_source = pager_source  # the demo's own; otherwise each daemon builds one from repos.yaml
        self.instrument = instrument
        self.daemon: Daemon | None = None  # this term's daemon (the last one, once stopped)
        self.leading = threading.Event()
        self.web_url: str | None = None
        self.lease: Lease | None = None
        self._views_store: Store | None = None

    def run(self, *, until_finished: bool = False, timeout: timedelta | None = None) -> Daemon | None:
        """Play until `stop` is set (or, with `until_finished`, every team's plan is played out)."""
        deadline = time.monotonic() + (timeout or timedelta(hours=24)).total_seconds() if until_finished else None
        ensure_workdir(self.config, self.config_path)  # caches and the crash log: one line if it cannot be made
        store = open_store(self.config, self.config_path)  # the leader's: fenced by the lease's term
        views_store = self._views_store = open_store(self.config, self.config_path)  # the web side's: never fenced
        lease = self.lease = event_lease(self.config, store)
        server = self._bind(views_store) if self.web else None  # before anything is recorded: a busy port fails cleanly
        feed = ConsoleFeed(views_store).start()
        try:
            if server is not None:
                self._announce(server, feed)
            while not self.stop.is_set():
                if not self._wait_for(lease):
                    break
                if self._lead(store, lease, until_finished, deadline):
                    break
                log.warning("back to standby", extra={"term": lease.term})
                lease.release()
        finally:
            lease.release()
            if server is not None:
                server.stop()
            feed.stop()
            feed.say("faultbot stopped; the game resumes where it left off at the next `faultbot run`")
            store.close()
            views_store.close()
        return self.daemon

    def _wait_for(self, lease: Lease) -> bool:
        """Standby: wait until the lease is ours (True) or we are told to stop (False)."""
        said = False
        while not self.stop.is_set():
            if lease.try_acquire(wait=1.0):  # PostgreSQL waits in the server's queue; SQLite polls
                return True
            if not said:
                log.info("standby: another faultbot leads this event", extra={"leader": self._leader_name()})
                said = True
        return False

    def _lead(self, store: Store, lease: Lease, until_finished: bool, deadline: float | None) -> bool:
        """Act as the leader; True when done (stopped, finished), False when the lease was lost."""
        term = lease.term or 0
        term_store, guard = store.fenced(term), lease.guard_for(term)  # this term's, for good
        daemon = Daemon(self.config, self.config_path, term_store, self.catalog, self.clock, self.on_progress,
                        self.pager_source, guard=guard, instrument=self.instrument)
        daemon.web_url = self.web_url
        self.daemon = daemon
        courier = None
        try:
            took = self.clock.now()
            daemon.prepare()  # first: a missing token leaves the state untouched
            term_store.append(ALL_TEAMS, ev.Leader(term=term, holder=lease.holder), at=took, source="lease")
            senders = make_senders(self.config)
            courier = Courier(term_store, self.clock, senders, guard=guard).start() if senders else None
            daemon.start()
            self.leading.set()
            while not self.stop.is_set():
                if until_finished and (daemon.finished() or (deadline is not None and time.monotonic() > deadline)):
                    return True
                if lease.lost.wait(HEARTBEAT_S):
                    return False
                lease.check()
            return True
        except LeaseLost as exc:
            log.error("stopped acting", extra={"reason": exc.message})
            return False
        finally:
            self.leading.clear()
            if not lease.held:  # lost: not one more write, not even from a tick finishing below
                term_store.depose()
            daemon.stop()
            if courier is not None:
                courier.stop()
            term_store.depose()  # a tick the stop abandoned writes nothing more

    def _leader_name(self) -> str | None:
        try:
            return self._views_store.leadership().holder if self._views_store is not None else None
        except Exception:  # noqa: BLE001 - only for a log line
            return None

    # -- the web side, for the leader and a standby alike ------------------------------------

    def health(self) -> dict[str, Any]:
        """For /healthz: the daemon's health while leading, else `standby` and who leads."""
        daemon = self.daemon
        if self.leading.is_set() and daemon is not None:
            return {**daemon.health(), "role": "leader", "term": daemon.store.term}
        report: dict[str, Any] = {"status": "standby", "role": "standby", "teams": len(self.config.teams)}
        if self._views_store is not None:
            try:
                leader = self._views_store.leadership()
            except FaultbotError as exc:
                report["error"] = exc.message
            except Exception as exc:  # noqa: BLE001 - the state is unreachable: still alive, still waiting
                report["error"] = f"state unreachable: {exc.__class__.__name__}"
            else:
                report.update(term=leader.term, leader=leader.holder,
                              leader_since=leader.since.isoformat() if leader.since else None)
        return report

    def _diff(self, team: str, fault: str) -> str | None:
        daemon = self.daemon
        return daemon.fault_diff(team, fault) if self.leading.is_set() and daemon is not None else None

    def _request_tick(self, team: str, source: str) -> None:
        daemon = self.daemon
        if self.leading.is_set() and daemon is not None:  # on a standby the leader's next poll sees it
            daemon.request_tick(team, source)

    def _delivered(self, delivery: Delivery) -> None:
        daemon = self.daemon
        if self.leading.is_set() and daemon is not None:  # on a standby the leader's next poll sees it
            daemon.delivered(delivery)

    def _bind(self, views_store: Store) -> BackgroundServer:
        views = LiveViews(self.config, views_store, self.catalog, self.clock)
        return bind_web(self.config, lambda: live_app(self.config, views, diff=self._diff,
                                                      request_tick=self._request_tick, health=self.health,
                                                      delivered=self._delivered))

    def _announce(self, server: BackgroundServer, feed: ConsoleFeed) -> None:
        server.start()
        self.web_url = server.url
        feed.say(f"scoreboard at {server.url}/ (public: incidents, never faults)", url=server.url)
        token_env = self.config.web.organizer_token_env
        feed.say(f"organizer view at {server.url}/admin (token from ${token_env})" if token_env and
                 os.environ.get(token_env) else "organizer view off: set web.organizer_token_env and that "
                 "variable to serve /admin")
