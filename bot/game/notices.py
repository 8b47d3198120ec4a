"""Notifications, derived from the event log: the log is the outbox.

Every event that people should hear about becomes a `Notice`: a hint becomes a message to
the team; injections, deploys, fixes, recoveries, time-outs, halts and anomalies become
lines in the organizers' feed. A notice's id is its event's id and its audience, so it is
the same notice after a restart. A notice is delivered when a `notice.delivered` event
names it; until then it is pending and is sent again — at least once, possibly twice
(a receiver that answered too late), which is why every delivery carries its id.

Messages to a team never name the fault: no id, no title, no symptom — the incident's
number in the team's game and the hint's own words, which the catalog writes for teams.
Only events after the outbox was opened (`notice.outbox_opened`, recorded once) are
notices, so turning notifications on mid-event does not replay the past.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.game import events as ev
from bot.game.events import ALL_TEAMS, Event

TEAM, ORGANIZER = "team", "organizer"


@dataclass(frozen=True)
class Notice:
    """One message to deliver."""

    id: str
    audience: str
    team: str
    kind: str
    text: str
    at: datetime
    incident: int | None = None
    fault: str | None = None
    """Organizer notices only; a team's notice never carries it."""

    def body(self) -> dict[str, Any]:
        """The webhook JSON body (documented in the README)."""
        body: dict[str, Any] = {"id": self.id, "audience": self.audience, "team": self.team, "kind": self.kind,
                                "incident": self.incident, "text": self.text, "at": self.at.isoformat()}
        if self.audience == ORGANIZER and self.fault is not None:
            body["fault"] = self.fault
        return body


def _who(who: ev.Who | None) -> str:
    return (who.login or who.name or "someone") if who else "someone"


def _organizer_line(event: Event, incident: int | None) -> tuple[str, str] | None:
    """(kind, text) of the organizer feed line for an event, or None."""
    facts, fault = event.facts, event.fault or ""
    number = f" (incident {incident})" if incident else ""
    match facts:
        case ev.Landed():
            return "injected", f"injected {fault}{number} as {facts.persona} ({facts.sha[:10]})"
        case ev.Shipped():
            return "shipped", f"{fault}{number} is deployed"
        case ev.Fixed():
            return "fixed", f"fixed {fault}{number} by {facts.kind.replace('-', ' ')} ({_who(facts.fixed_by)})"
        case ev.Recovered():
            return "recovered", f"{fault}{number} recovered: the fix is deployed and healthy"
        case ev.Halted():
            how = "reverted by faultbot" if facts.revert_sha else "closed"
            return "halted", f"halted {fault}{number}: {how}"
        case ev.TimedOut():
            how = "reverted by faultbot" if facts.revert_sha else "left broken"
            return "timed-out", f"time limit for {fault}{number}: {how}"
        case ev.Anomaly():
            return "anomaly", f"anomaly on {fault}{number}: {facts.kind} {facts.detail}".rstrip()
        case ev.Hint():
            return "hint", f"hint {facts.index + 1} for {fault}{number}: {facts.text}"
        case ev.Halt():
            return "halt", f"{facts.by} halted {'every team' if event.team == ALL_TEAMS else 'the team'}"
        case ev.Resume():
            return "resume", f"{facts.by} resumed {'every team' if event.team == ALL_TEAMS else 'the team'}"
    return None


def notices_for(events: Iterable[Event], after: int | None = None) -> list[Notice]:
    """Every notice the log implies after the outbox was opened (or after event id `after`), both audiences."""
    opened: int | None = after
    numbers: dict[tuple[str, str], int] = {}
    per_team: dict[str, int] = {}
    found: list[Notice] = []
    for event in events:
        facts = event.facts
        if isinstance(facts, ev.OutboxOpened) and opened is None and after is None:
            opened = facts.after_event
        if isinstance(facts, ev.Landed) and event.fault and (event.team, event.fault) not in numbers:
            per_team[event.team] = per_team.get(event.team, 0) + 1
            numbers[(event.team, event.fault)] = per_team[event.team]
        if opened is None or event.id <= opened:
            continue
        incident = numbers.get((event.team, event.fault or ""))
        line = _organizer_line(event, incident)
        if line is None:
            continue
        kind, text = line
        found.append(Notice(f"{event.id}:{ORGANIZER}", ORGANIZER, event.team, kind, text, event.at, incident,
                            event.fault))
        if isinstance(facts, ev.Hint) and event.team != ALL_TEAMS:
            counted = f"incident {incident}" if incident else "your open incident"
            found.append(Notice(f"{event.id}:{TEAM}", TEAM, event.team, "hint",
                                f"Hint for {counted}: {facts.text}", event.at, incident))
    return found


def delivered(events: Iterable[Event]) -> set[str]:
    """Ids of the notices a receiver acknowledged."""
    return {e.facts.notice for e in events if isinstance(e.facts, ev.Delivered)}


def pending(events: Sequence[Event]) -> list[Notice]:
    """Notices not yet acknowledged, oldest first."""
    done = delivered(events)
    return [n for n in notices_for(events) if n.id not in done]


def outbox_opened(events: Iterable[Event]) -> bool:
    """Was the outbox opened (notifications configured) at some point of this event?"""
    return any(isinstance(e.facts, ev.OutboxOpened) for e in events)
