"""Data staleness per team and source (argocd, github): one event when it turns stale, one
when it is fresh again, so `status` can say which numbers to trust less right now."""

from __future__ import annotations

from datetime import datetime

from bot.game.timeline import FRESH, STALE
from bot.store.eventlog import Store


def mark_stale(store: Store, team: str, source: str, error: str, at: datetime) -> None:
    """Record that `source` could not be read for `team` (once per outage)."""
    last = _last(store, team, source)
    if last != STALE:
        store.append(team, STALE, {"source": source, "error": error}, source=source, at=at)


def mark_fresh(store: Store, team: str, source: str, at: datetime) -> None:
    """Record that `source` answers again for `team` (only after it was stale)."""
    if _last(store, team, source) == STALE:
        store.append(team, FRESH, {"source": source}, source=source, at=at)


def _last(store: Store, team: str, source: str) -> str | None:
    events = [e for e in store.events(team, kinds=(STALE, FRESH)) if e.facts.get("source") == source]
    return events[-1].kind if events else None
