"""The running daemon's web side, wired: the spectator board, its picture, the organizer view.

The web layer renders; this module feeds it from the event log, the catalog (a fault's
family, shown once an incident is over) and the daemon (halt, resume, each fault's diff
from the team's cached clone). The listener is bound before the daemon records anything,
so a busy `web.port` is one line naming the port and the setting, and nothing is half-done.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Mapping
from datetime import tzinfo
from zoneinfo import ZoneInfo

from bot.app.daemon import is_halted
from bot.catalog.faults import Catalog
from bot.config import Config
from bot.errors import FaultbotError
from bot.game import events as ev
from bot.game.clock import Clock
from bot.game.events import ALL_TEAMS
from bot.game.scoring import rules_from
from bot.game.timeline import FaultInstance, fold
from bot.store.eventlog import Store
from bot.web import timeline_png
from bot.web.admin import OrganizerSide
from bot.web.app import build_app
from bot.web.organizer_auth import OrganizerAuth
from bot.web.server import BackgroundServer
from bot.web.spectator import SpectatorBoard, spectator_board, spectator_label
from bot.web.webhooks import Delivery


def bind_web(config: Config, app_factory: Callable[[], object]) -> BackgroundServer:
    """Bind `web.host:web.port` now (start later); a busy port is a one-line error."""
    host, port = config.web.host, config.web.port
    try:
        return BackgroundServer(app_factory(), host, port)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise FaultbotError(f"web.port: port {port} on {host} is already in use; stop what listens there or "
                                "set web.port in repos.yaml to a free port (0 picks one)") from None
        raise FaultbotError(f"web.host/web.port: cannot listen on {host}:{port}: {exc.strerror or exc}") from None


class LiveViews:
    """Everything the web side reads, computed from the log on each request."""

    def __init__(self, config: Config, store: Store, catalog: Catalog, clock: Clock) -> None:
        self.config, self.store, self.catalog, self.clock = config, store, catalog, clock
        self.zone: tzinfo = ZoneInfo(config.event.timezone)
        self.teams = [t.name for t in config.teams]
        self.rules = rules_from(config.scoring)

    def instances(self) -> list[FaultInstance]:
        """Every fault instance, folded from the log."""
        return fold(self.store.events())

    def families(self) -> Mapping[str, str]:
        """Fault id → family, for incidents that are over."""
        return {fault_id: fault.family for fault_id, fault in self.catalog.faults.items()}

    def planned(self) -> dict[str, int]:
        """How many faults each team's plan holds ("incident 2 of 3")."""
        return {team: len(faults) for team, faults in self.plans().items()}

    def plans(self) -> dict[str, tuple[str, ...]]:
        """Each team's planned faults, in order (organizers only)."""
        found = {}
        for team in self.teams:
            plan = self.store.latest(team, ev.PlanMade)
            if plan is not None:
                found[team] = tuple(plan.faults)
        return found

    def board(self) -> SpectatorBoard:
        """The public board."""
        return spectator_board(self.instances(), self.config.event.name, self.clock.now(), planned=self.planned(),
                               families=self.families(), teams=self.teams, rules=self.rules, zone=self.zone)

    def timeline_png(self) -> bytes:
        """The public timeline picture: incident numbers, families of finished ones, no fault ids."""
        chart = timeline_png.chart_for_event(self.instances(), f"{self.config.event.name} — incidents",
                                             self.clock.now(), self.zone, spectator_label(self.families()),
                                             self.teams)
        return timeline_png.render(chart).png

    def halted(self) -> dict[str, bool]:
        """Every team and whether it is halted."""
        return {team: is_halted(self.store, team) for team in self.teams}


def organizer_side(config: Config, views: LiveViews, diff: Callable[[str, str], str | None],
                   request_tick: Callable[[str, str], None]) -> OrganizerSide | None:
    """The organizer view's wiring, or None when no organizer token is configured."""
    name = config.web.organizer_token_env
    token = os.environ.get(name) if name else None
    if not token:
        return None

    def control(facts: ev.Facts, said: str) -> Callable[[str | None], str]:
        def run(team: str | None) -> str:
            views.store.append(team or ALL_TEAMS, facts, at=views.clock.now(), source="web")
            for name in [team] if team else views.teams:
                request_tick(name, "web")  # reverts (or resumes) now, not at the next poll
            return f"{said} {team or 'every team'}"

        return run

    return OrganizerSide(OrganizerAuth(token), config.event.name, views.instances, views.halted, diff,
                         control(ev.Halt(by="organizer (web)"), "halted"),
                         control(ev.Resume(by="organizer (web)"), "resumed"), views.zone, views.plans)


def live_app(config: Config, views: LiveViews, *, diff: Callable[[str, str], str | None],
             request_tick: Callable[[str, str], None], health: Callable[[], dict[str, object]],
             delivered: Callable[[Delivery], None] | None = None) -> object:
    """The daemon's ASGI app."""
    secret_env = config.web.webhook_secret_env
    teams_by_repo = {t.repo: t.name for t in config.all_team_settings() if t.repo}
    return build_app(health, views.board, timeline_png=views.timeline_png,
                     organizer=organizer_side(config, views, diff, request_tick),
                     webhook_secret=os.environ.get(secret_env) if secret_env else None,
                     teams_by_repo=teams_by_repo,
                     # what the look finds is logged as the webhook's (`webhook:push`), not the poll's
                     on_change=delivered or (lambda d: request_tick(d.team, f"webhook:{d.event}")))

