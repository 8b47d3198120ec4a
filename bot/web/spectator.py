"""What a spectator may know: incidents, never faults.

Spectators (and the teams, who watch the same board) see each team's incidents as they
live them: "incident 2 of 3 · open 12m", "fixed in 6m55s by revert", the ranking and a
timeline. A fault's id, title, symptom and hints name the cause, so they never appear
here for an open or future fault; a fault's *family* ("db-unreachable") is shown once the
incident is over. Everything public — the board, `/api/status`, the timeline picture and
`/metrics` labels — is built from `SpectatorBoard`, so there is one place to get it right.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from bot.game.scoring import DEFAULT_RULES, ScoringRules, scoreboard
from bot.game.timeline import FaultInstance, State, numbered
from bot.web.humanize import UTC, LocalClock, human_duration


@dataclass(frozen=True)
class IncidentView:
    """One incident as the public sees it."""

    number: int
    of: int | None
    state: str
    """open | fixed | timed out | halted."""
    line: str
    opened_at: datetime | None
    open_for_s: float | None
    fixed_in_s: float | None
    how: str | None
    family: str | None
    mtta_s: float | None
    status_updates: int

    def as_json(self) -> dict[str, Any]:
        """Plain JSON types."""
        return {"number": self.number, "of": self.of, "state": self.state, "line": self.line,
                "opened_at": self.opened_at.isoformat() if self.opened_at else None,
                "open_for_s": self.open_for_s, "fixed_in_s": self.fixed_in_s, "how": self.how,
                "family": self.family, "mtta_s": self.mtta_s, "status_updates": self.status_updates}


@dataclass(frozen=True)
class TeamBoard:
    """One team's row: rank, score and incidents."""

    rank: int
    team: str
    score: int
    fixed: int
    timed_out: int
    halted: int
    open: int
    median_time_to_fix_s: float | None
    median_mtta_s: float | None
    stale: bool
    incidents: tuple[IncidentView, ...]

    def as_json(self) -> dict[str, Any]:
        """Plain JSON types."""
        return {"rank": self.rank, "team": self.team, "score": self.score, "fixed": self.fixed,
                "timed_out": self.timed_out, "halted": self.halted, "open": self.open,
                "median_time_to_fix_s": self.median_time_to_fix_s, "median_mtta_s": self.median_mtta_s,
                "stale": self.stale, "incidents": [i.as_json() for i in self.incidents]}


@dataclass(frozen=True)
class SpectatorBoard:
    """The public view of the whole event."""

    event: str
    generated_at: datetime
    zone_note: str
    teams: tuple[TeamBoard, ...]

    def as_json(self) -> dict[str, Any]:
        """`/api/status`: spectator-safe."""
        return {"event": self.event, "generated_at": self.generated_at.isoformat(), "times": self.zone_note,
                "teams": [t.as_json() for t in self.teams]}


HOW = {"revert": "revert", "forward-fix": "forward fix", "fixed": "fix"}


def _how(instance: FaultInstance) -> str | None:
    if instance.state is State.halted:
        return "halted by the organizers"
    if instance.state is State.timed_out:
        return "time limit: faultbot reverted it" if instance.fix_kind == "bot-revert" else "time limit"
    if instance.state is State.fixed:
        return HOW.get(instance.fix_kind or "fixed", "fix")
    return None


def _line(number: int, of: int | None, instance: FaultInstance, now: datetime) -> str:
    counted = f"incident {number} of {of}" if of else f"incident {number}"
    start = instance.clock_started_at or instance.injected_at
    if instance.is_open:
        waiting = "" if start is not None else " · not deployed yet"
        opened = human_duration((now - start).total_seconds()) if start else None
        return f"{counted} · open {opened}" if opened else counted + waiting
    if instance.state is State.fixed:
        return f"{counted} · fixed in {human_duration(instance.time_to_fix_s)} by {_how(instance)}"
    return f"{counted} · {_how(instance)}"


def incident_view(instance: FaultInstance, number: int, of: int | None, now: datetime,
                  families: Mapping[str, str]) -> IncidentView:
    """One incident, with nothing that names an open fault."""
    start = instance.clock_started_at or instance.injected_at
    over = not instance.is_open
    pager = instance.pager
    return IncidentView(
        number=number,
        of=of,
        state="open" if instance.is_open else {State.fixed: "fixed", State.halted: "halted"}.get(
            instance.state, "timed out"),
        line=_line(number, of, instance, now),
        opened_at=instance.injected_at,
        open_for_s=round((now - start).total_seconds(), 3) if instance.is_open and start else None,
        fixed_in_s=instance.time_to_fix_s if instance.state is State.fixed else None,
        how=_how(instance),
        family=families.get(instance.fault) if over else None,
        mtta_s=instance.mtta_s,
        status_updates=sum(1 for m in pager.messages if m.kind == "status_update") if pager else 0,
    )


def spectator_board(instances: Sequence[FaultInstance], event: str, now: datetime, *,
                    planned: Mapping[str, int], families: Mapping[str, str], teams: Sequence[str] = (),
                    rules: ScoringRules = DEFAULT_RULES, zone: tzinfo = UTC) -> SpectatorBoard:
    """The public board: every team (even before its first incident), ranked."""
    injected = [i for i in instances if i.injected_at is not None]  # scheduled faults are future: unseen
    board = {t.team: t for t in scoreboard(injected, rules)}
    views: dict[str, list[IncidentView]] = {}
    for instance, number in numbered(injected):
        views.setdefault(instance.team, []).append(
            incident_view(instance, number, planned.get(instance.team), now, families))
    names = list(dict.fromkeys([*teams, *board]))
    rows = []
    for name in names:
        scored = board.get(name)
        rows.append(TeamBoard(
            rank=scored.rank if scored else len(board) + 1,
            team=name,
            score=scored.score if scored else 0,
            fixed=scored.fixed if scored else 0,
            timed_out=scored.timed_out if scored else 0,
            halted=scored.halted if scored else 0,
            open=scored.open if scored else 0,
            median_time_to_fix_s=scored.median_time_to_fix_s if scored else None,
            median_mtta_s=scored.median_mtta_s if scored else None,
            stale=any(i.stale for i in injected if i.team == name),
            incidents=tuple(views.get(name, [])),
        ))
    rows.sort(key=lambda t: (t.rank, t.team))
    note = LocalClock.for_instances(injected, zone).note
    return SpectatorBoard(event, now, note, tuple(rows))


def spectator_label(families: Mapping[str, str]) -> Callable[[FaultInstance, int], str]:
    """How the public timeline names an incident: its number, and its family once it is over."""
    def label(instance: FaultInstance, number: int) -> str:
        family = families.get(instance.fault) if not instance.is_open else None
        return f"{number} · {family}" if family else str(number)

    return label
