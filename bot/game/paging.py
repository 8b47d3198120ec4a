"""Which PagerDuty incident belongs to which fault, and when to look again: pure rules.

A fault's incident is the first one opened on the team's service while the fault was the
team's problem: from when its clock started (shipped, or injected without deploy
tracking) until the team's next fault was injected. Later incidents in that window (the
monitoring re-fired after a resolve) add their notes and status updates, but the first
one is timed: MTTA is its first acknowledgement minus its opening, both PagerDuty's times.

A fault is worth reading again while it is open, and for `FOLLOW_FOR` after it ended:
people acknowledge late, resolve later and post the last status update after the fix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from bot.game.events import PagerIncident
from bot.game.timeline import FaultInstance

FOLLOW_FOR = timedelta(hours=1)


def windows(instances: Sequence[FaultInstance]) -> list[tuple[FaultInstance, datetime, datetime | None]]:
    """(instance, from, until) for each injected instance of one team; `until` None: still the latest."""
    injected = sorted((i for i in instances if i.injected_at is not None), key=lambda i: i.injected_at)  # type: ignore[arg-type, return-value]
    found = []
    for position, instance in enumerate(injected):
        start = instance.clock_started_at or instance.injected_at
        assert start is not None
        until = injected[position + 1].injected_at if position + 1 < len(injected) else None
        found.append((instance, start, until))
    return found


def worth_reading(instance: FaultInstance, now: datetime) -> bool:
    """Could PagerDuty still tell us something new about this fault?"""
    if instance.is_open:
        return True
    ended = instance.resolved_at
    return ended is not None and now - ended <= FOLLOW_FOR


def reading_since(instances: Sequence[FaultInstance], now: datetime) -> datetime | None:
    """The earliest window start among faults worth reading (None: nothing to read)."""
    starts = [start for instance, start, _ in windows(instances) if worth_reading(instance, now)]
    return min(starts) if starts else None


def incident_for(incidents: Sequence[PagerIncident], start: datetime, until: datetime | None) -> PagerIncident | None:
    """The fault's incident (the first in its window), with every message of the window."""
    inside = sorted((i for i in incidents if i.opened_at is not None and i.opened_at >= start
                     and (until is None or i.opened_at < until)), key=lambda i: i.opened_at)  # type: ignore[arg-type, return-value]
    if not inside:
        return None
    messages = sorted((m for i in inside for m in i.messages), key=lambda m: m.at or start)
    return replace(inside[0], messages=tuple(messages), incidents=len(inside))


def updates(instances: Sequence[FaultInstance], incidents: Sequence[PagerIncident],
            now: datetime) -> list[tuple[str, PagerIncident]]:
    """(fault, facts) to record: each fault worth reading whose incident changed since last recorded."""
    changed = []
    for instance, start, until in windows(instances):
        if not worth_reading(instance, now):
            continue
        found = incident_for(incidents, start, until)
        if found is not None and found != instance.pager:
            changed.append((instance.fault, found))
    return changed
