"""What /healthz says: the scheduler runs, and every team was polled recently.

A team whose forge hangs must show up here rather than behind a cheerful "ok" (issue 15):
each team's age is the time since its last tick that reached its forge (or since the
daemon started, for a team never reached), and a team older than `STALE_POLLS` poll
intervals is stale and turns the whole answer non-ok (HTTP 503).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

STALE_POLLS = 3


@dataclass(frozen=True)
class TeamPolls:
    """One team's polling, as the daemon last saw it."""

    team: str
    last_polled_at: datetime | None
    polling_since: datetime | None
    last_poll_began: datetime | None = None  # when the tick that ended at `last_polled_at` began


def health_report(*, running: bool, teams: list[TeamPolls], errors: dict[str, str], now: datetime,
                  running_since: datetime | None, poll_interval: timedelta) -> dict[str, Any]:
    """The /healthz document: `status` is ok, stale (some team not polled for a while) or stopped."""
    limit = poll_interval * STALE_POLLS
    polls: dict[str, dict[str, Any]] = {}
    stale = []
    for team in teams:
        since = team.last_polled_at or running_since or now
        age = max(timedelta(0), now - since)
        is_stale = running and age > limit
        if is_stale:
            stale.append(team.team)
        polls[team.team] = {
            "last_polled_at": _iso(team.last_polled_at),
            "last_poll_began_at": _iso(team.last_poll_began),
            "age_s": round(age.total_seconds(), 1),
            "stale": is_stale,
            "polling_since": _iso(team.polling_since),
        }
    status = "stopped" if not running else ("stale" if stale else "ok")
    latest = max((t.last_polled_at for t in teams if t.last_polled_at), default=None)
    return {"status": status, "teams": len(teams), "last_poll_at": _iso(latest), "stale": stale,
            "stale_after_s": limit.total_seconds(), "polls": polls, "errors": dict(errors)}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
