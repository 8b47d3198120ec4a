"""Data staleness per team and source (argocd, github): one event when it turns stale, one
when it is fresh again, so `status` can say which numbers to trust less right now."""

from __future__ import annotations

from datetime import datetime

from bot.game.events import Fresh, Kind, Stale
from bot.store.eventlog import Store


def mark_stale(store: Store, team: str, source: str, error: str, at: datetime) -> None:
    """Record that `source` could not be read for `team` (once per outage)."""
    if not _stale(store, team, source):
        store.append(team, Stale(source, error), source=source, at=at)


def mark_fresh(store: Store, team: str, source: str, at: datetime) -> None:
    """Record that `source` answers again for `team` (only after it was stale)."""
    if _stale(store, team, source):
        store.append(team, Fresh(source), source=source, at=at)


def _stale(store: Store, team: str, source: str) -> bool:
    said = [e.facts for e in store.events(team, kinds=(Kind.STALE, Kind.FRESH))
            if isinstance(e.facts, (Stale, Fresh)) and e.facts.source == source]
    return bool(said) and isinstance(said[-1], Stale)
