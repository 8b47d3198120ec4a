"""The console feed: one line for every thing that happened, as it is recorded.

It follows the event log from where the daemon started and logs each organizer notice
(`bot.game.notices`: injected, deployed, fixed, recovered, hints, time limits, halts,
anomalies) on the `faultbot.feed` logger — a human line on a terminal, a JSON line
otherwise. Reading the log, not hooking the daemon's code paths, means a fix found by the
watcher, a halt from the web page and one from `faultbot halt` all show up the same way.
"""

from __future__ import annotations

import logging
import threading

from bot.game.notices import ORGANIZER, notices_for
from bot.store.eventlog import Store

log = logging.getLogger("faultbot.feed")


class ConsoleFeed:
    """Logs the organizer line of every event recorded after it started."""

    def __init__(self, store: Store, interval_s: float = 1.0) -> None:
        self.store, self.interval_s = store, interval_s
        events = store.events()
        self.after = events[-1].id if events else 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="faultbot-feed", daemon=True)

    def say(self, text: str, **fields: object) -> None:
        """A line of our own (the URLs served, the daemon stopping)."""
        log.info(text, extra=fields)

    def follow_once(self) -> int:
        """Log what was recorded since the last look; how many lines."""
        events = self.store.events()
        lines = [n for n in notices_for(events, after=self.after) if n.audience == ORGANIZER]
        for notice in lines:
            log.info(notice.text, extra={"team": notice.team, "kind": notice.kind, "fault": notice.fault,
                                         "incident": notice.incident})
        if events:
            self.after = events[-1].id
        return len(lines)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.follow_once()
            except Exception:  # noqa: BLE001 - the console must never end the daemon
                log.exception("feed round failed")

    def start(self) -> ConsoleFeed:
        """Follow on a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Print what is left, then stop."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self.follow_once()
