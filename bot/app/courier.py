"""The courier: delivers pending notices from the event log, at least once, never in the way.

It runs on its own thread beside the daemon. Each round it reads the log, works out the
pending notices (`bot.game.notices`), sends each to its route, and records a
`notice.delivered` event when the receiver acknowledged it. A receiver that is down, slow
or refusing only delays its own notices (backing off up to five minutes, or what it asked
for); the game never waits for a notification. A restarted daemon finds the same pending
notices in the log and sends them again.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.config import Config, NotifySettings, Route
from bot.game import events as ev
from bot.game.clock import Clock
from bot.game.events import ALL_TEAMS
from bot.game.notices import ORGANIZER, TEAM, Notice, outbox_opened, pending
from bot.notify.senders import NotDelivered, Sender, SlackSender, WebhookSender, slack_client
from bot.store.eventlog import Store

log = logging.getLogger("faultbot.notify")
MAX_BACKOFF = timedelta(minutes=5)


@dataclass
class _Attempts:
    count: int = 0
    next_at: datetime | None = None


def _sender(route: Route, settings: NotifySettings, env: Mapping[str, str]) -> Sender:
    if route.slack_channel is not None:
        return SlackSender(slack_client(env.get(settings.slack_token_env, ""), settings.slack_api_url),
                           route.slack_channel)
    token = env.get(settings.webhook_token_env) if settings.webhook_token_env else None
    return WebhookSender(route.webhook_url or "", token)


def make_senders(config: Config, env: Mapping[str, str] | None = None) -> dict[tuple[str, str], Sender]:
    """(audience, team) → sender, from repos.yaml's `notify:` and each team's `notify:`."""
    env = os.environ if env is None else env
    settings = config.notify or NotifySettings()
    senders: dict[tuple[str, str], Sender] = {}
    for team in config.teams:
        if team.notify is not None:
            senders[(TEAM, team.name)] = _sender(team.notify, settings, env)
    if config.notify is not None and config.notify.organizer is not None:
        senders[(ORGANIZER, "")] = _sender(config.notify.organizer, settings, env)
    return senders


class Courier:
    """Sends pending notices; `deliver_once` is one round, `start` runs rounds on a thread."""

    def __init__(self, store: Store, clock: Clock, senders: Mapping[tuple[str, str], Sender],
                 interval_s: float = 2.0, guard: Callable[[], None] | None = None) -> None:
        self.store, self.clock, self.senders, self.interval_s = store, clock, dict(senders), interval_s
        self.guard = guard or (lambda: None)  # before each send: a deposed leader sends nothing
        self._attempts: dict[str, _Attempts] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def open_outbox(self) -> None:
        """Record where notices start, once per event (a restart keeps the first mark)."""
        events = self.store.events()
        if not outbox_opened(events):
            last = events[-1].id if events else 0
            self.store.append(ALL_TEAMS, ev.OutboxOpened(after_event=last), at=self.clock.now(), source="notify")

    def _route(self, notice: Notice) -> Sender | None:
        return self.senders.get((notice.audience, notice.team if notice.audience == TEAM else ""))

    def deliver_once(self) -> int:
        """Send what is pending and due; returns how many were delivered."""
        now, sent = self.clock.now(), 0
        for notice in pending(self.store.events()):
            sender = self._route(notice)
            attempts = self._attempts.setdefault(notice.id, _Attempts())
            if sender is None or (attempts.next_at is not None and now < attempts.next_at):
                continue
            self.guard()
            try:
                receipt = sender.send(notice)
            except NotDelivered as exc:
                attempts.count += 1
                wait = timedelta(seconds=exc.retry_after) if exc.retry_after else \
                    min(MAX_BACKOFF, timedelta(seconds=2 ** min(attempts.count, 9)))
                attempts.next_at = now + (MAX_BACKOFF if exc.permanent else wait)
                log.warning("notice not delivered", extra={"notice": notice.id, "route": sender.name,
                                                           "error": exc.message, "attempt": attempts.count})
                continue
            team = notice.team if notice.team else ALL_TEAMS
            self.store.append(team, ev.Delivered(notice.id, sender.name, receipt), at=self.clock.now(),
                              source="notify")
            self._attempts.pop(notice.id, None)
            sent += 1
        return sent

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.deliver_once()
            except Exception:  # noqa: BLE001 - a notification problem must never end the daemon
                log.exception("courier round failed")

    def start(self) -> Courier:
        """Open the outbox and deliver on a background thread until `stop`."""
        self.open_outbox()
        self._thread = threading.Thread(target=self._run, name="faultbot-courier", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop after the current round (bounded by the senders' timeouts)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=15)
        try:
            self.deliver_once()  # what fell due at the very end (the last hint, the final fix)
        except Exception:  # noqa: BLE001 - a notification problem must never end the daemon
            log.exception("courier round failed")
        self.close()

    def close(self) -> None:
        """Release the senders' connections."""
        for sender in self.senders.values():
            close = getattr(sender, "close", None)
            if callable(close):
                close()
