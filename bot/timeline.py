"""Fold the append-only event log into fault instances: the state `status` and the
scoreboard show, derived and never stored, so it cannot drift from what happened.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from bot.store import Event

# Event kinds, in one place so writers and readers agree.
SCHEDULED = "fault.scheduled"
LANDED = "inject.landed"
HEAD = "repo.head"
FIXED = "fix.detected"
REGRESSED = "fix.regressed"
PROGRESS = "fault.progress"
RESPONSE = "response.first"
TIMED_OUT = "fault.timed_out"
HALTED = "fault.halted"
HINT = "hint.given"
REVERT_INTENT = "bot.revert_intent"
STARTED = "event.started"
PLAN = "plan.made"
HALT = "control.halt"
RESUME = "control.resume"
ALL_TEAMS = "*"


class State(StrEnum):
    scheduled = "scheduled"
    injected = "injected"
    fixed = "fixed"
    regressed = "regressed"
    timed_out = "timed-out"
    halted = "halted"


OPEN_STATES = (State.injected, State.regressed)


@dataclass
class FaultInstance:
    """One fault in one team's game, as the log tells it."""

    team: str
    fault: str
    state: State = State.scheduled
    scheduled_at: datetime | None = None
    injected_sha: str | None = None
    landed_sha: str | None = None
    parent_sha: str | None = None
    injected_at: datetime | None = None
    injected_pr: int | None = None
    binding: dict[str, Any] = field(default_factory=dict)
    fix_sha: str | None = None
    fix_kind: str | None = None
    fixed_by: dict[str, Any] | None = None
    pr: dict[str, Any] | None = None
    fixed_at: datetime | None = None
    fixed_at_source: str | None = None
    fixed_at_uncertainty_s: float | None = None
    regressions: int = 0
    failing: list[str] = field(default_factory=list)
    progress: tuple[int, int] | None = None
    first_response: dict[str, Any] | None = None
    closed_at: datetime | None = None
    hints_given: list[int] = field(default_factory=list)

    @property
    def resolved_at(self) -> datetime | None:
        """When this fault stopped blocking the next one: fixed, or closed by the bot."""
        if self.state is State.fixed:
            return self.fixed_at
        if self.state in (State.timed_out, State.halted):
            return self.closed_at
        return None

    @property
    def is_open(self) -> bool:
        """Injected and not (currently) fixed."""
        return self.state in OPEN_STATES

    @property
    def time_to_fix_s(self) -> float | None:
        """Seconds from the fault landing to the fix (server or bot-observed times only)."""
        if self.fixed_at is None or self.injected_at is None:
            return None
        return round((self.fixed_at - self.injected_at).total_seconds(), 3)

    def as_json(self) -> dict[str, Any]:
        """The `status --json` shape."""
        def iso(moment: datetime | None) -> str | None:
            return moment.isoformat() if moment else None

        return {
            "team": self.team,
            "fault": self.fault,
            "state": self.state.value,
            "injected_sha": self.injected_sha,
            "injected_at": iso(self.injected_at),
            "fix_sha": self.fix_sha,
            "fix_kind": self.fix_kind,
            "fixed_by": self.fixed_by,
            "pr": self.pr,
            "fixed_at": iso(self.fixed_at),
            "fixed_at_source": self.fixed_at_source,
            "fixed_at_uncertainty_s": self.fixed_at_uncertainty_s,
            "time_to_fix_s": self.time_to_fix_s,
            "regressions": self.regressions,
            "checks_failing": self.failing,
            "checks_passing": list(self.progress) if self.progress else None,
            "first_response": self.first_response,
            "closed_at": iso(self.closed_at),
            "hints_given": list(self.hints_given),
        }


def _when(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def fold(events: Iterable[Event]) -> list[FaultInstance]:
    """Every fault instance, in the order faults were first scheduled or injected."""
    instances: dict[tuple[str, str], FaultInstance] = {}
    for event in events:
        if event.fault is None:
            continue
        key = (event.team, event.fault)
        instance = instances.setdefault(key, FaultInstance(event.team, event.fault))
        facts = event.facts
        if event.kind == SCHEDULED:
            instance.scheduled_at = _when(facts.get("at")) or event.at
        elif event.kind == LANDED:
            instance.state = State.injected
            instance.injected_sha = facts.get("sha")
            instance.landed_sha = facts.get("landed_sha") or facts.get("sha")
            instance.parent_sha = facts.get("parent")
            instance.injected_at = _when(facts.get("pushed_at")) or event.at
            instance.injected_pr = facts.get("pr")
            instance.binding = facts.get("binding") or {}
        elif event.kind == FIXED:
            instance.state = State.fixed
            instance.fix_sha = facts.get("sha")
            instance.fix_kind = facts.get("kind")
            instance.fixed_by = facts.get("fixed_by")
            instance.pr = facts.get("pr")
            instance.fixed_at = _when(facts.get("fixed_at")) or event.at
            instance.fixed_at_source = facts.get("fixed_at_source")
            instance.fixed_at_uncertainty_s = facts.get("uncertainty_s")
            instance.failing = []
        elif event.kind == REGRESSED:
            instance.state = State.regressed
            instance.regressions += 1
        elif event.kind == PROGRESS:
            instance.failing = list(facts.get("failing", []))
            instance.progress = (int(facts.get("passing", 0)), int(facts.get("total", 0)))
        elif event.kind == RESPONSE:
            instance.first_response = dict(facts)
        elif event.kind in (TIMED_OUT, HALTED):
            instance.state = State.timed_out if event.kind == TIMED_OUT else State.halted
            instance.closed_at = event.at
            if facts.get("revert_sha"):
                instance.fix_sha = facts["revert_sha"]
                instance.fix_kind = "bot-revert"
                instance.fixed_by = facts.get("fixed_by")
            instance.failing = []
        elif event.kind == HINT:
            instance.hints_given.append(int(facts.get("index", -1)))
    return list(instances.values())
