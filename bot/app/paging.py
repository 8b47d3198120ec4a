"""Each team's PagerDuty incidents, read on every tick and recorded as typed events.

The rules (which incident is a fault's, when to stop looking) are `bot.game.paging`; the
reading is `bot.pager`; this joins them to the event log. PagerDuty being down or rate
limited marks the team's PagerDuty data stale (a `data.stale` event, shown on both views)
and keeps the last numbers recorded — stale, never wrong. After a 429 it waits the
`ratelimit-reset` seconds PagerDuty asked for before reading again.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot.game import events as ev
from bot.game import paging
from bot.game.clock import Clock
from bot.game.timeline import fold
from bot.pager.pagerduty import IncidentSource, PagerUnavailable
from bot.store.eventlog import Store

log = logging.getLogger("faultbot.pager")
SOURCE = "pagerduty"
BACKOFF = timedelta(seconds=30)  # after an outage without a reset time


class PagerPoller:
    """Reads one team's PagerDuty service and records what changed."""

    def __init__(self, team: str, service_id: str, source: IncidentSource, store: Store, clock: Clock) -> None:
        self.team, self.service_id, self.source, self.store, self.clock = team, service_id, source, store, clock
        self.not_before: datetime | None = None

    def _stale(self) -> bool:
        marks = [e.facts for e in self.store.events(self.team, kinds=(ev.Kind.STALE, ev.Kind.FRESH))
                 if getattr(e.facts, "source", None) == SOURCE]
        return bool(marks) and isinstance(marks[-1], ev.Stale)

    def refresh(self) -> None:
        """One read; never raises for PagerDuty's sake (the game goes on without it)."""
        now = self.clock.now()
        if self.not_before is not None and now < self.not_before:
            return
        instances = fold(self.store.events(self.team))
        since = paging.reading_since(instances, now)
        if since is None:
            return
        try:
            incidents = self.source.incidents(self.service_id, since)
        except PagerUnavailable as exc:
            wait = timedelta(seconds=exc.retry_after) if exc.retry_after else BACKOFF
            self.not_before = now + wait
            if not self._stale():
                self.store.append(self.team, ev.Stale(SOURCE, exc.message), source=SOURCE, at=now)
            log.warning("pagerduty unavailable", extra={"team": self.team, "error": exc.message,
                                                        "retry_in_s": wait.total_seconds()})
            return
        self.not_before = None
        if self._stale():
            self.store.append(self.team, ev.Fresh(SOURCE), source=SOURCE, at=now)
        for fault, facts in paging.updates(instances, incidents, now):
            self.store.append(self.team, facts, fault=fault, source=SOURCE, at=now)
