"""Fold the append-only event log into fault instances: the state `status` and the
scoreboard show, derived and never stored, so it cannot drift from what happened.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from bot.store.eventlog import Event

# Event kinds, in one place so writers and readers agree.
SCHEDULED = "fault.scheduled"
LANDED = "inject.landed"
HEAD = "repo.head"
BRANCHES = "repo.branches"
FIXED = "fix.detected"
REGRESSED = "fix.regressed"
PROGRESS = "fault.progress"
RESPONSE = "response.first"
TIMED_OUT = "fault.timed_out"
HALTED = "fault.halted"
REFUSED = "inject.refused"
SKIPPED = "fault.skipped"
HINT = "hint.given"
REVERT_INTENT = "bot.revert_intent"
STARTED = "event.started"
PLAN = "plan.made"
SHIPPED = "deploy.shipped"
RECOVERED = "deploy.recovered"
CI = "ci.run"
TRACKED = "deploy.tracked"
ANOMALY = "anomaly"
PROBE = "probe.changed"
STALE = "data.stale"
FRESH = "data.fresh"
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
    skipped = "skipped"  # could not be injected (repeatedly refused): the game moves on


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
    pr_pending: bool = False
    regressions: int = 0
    failing: list[str] = field(default_factory=list)
    progress: tuple[int, int] | None = None
    first_response: dict[str, Any] | None = None
    closed_at: datetime | None = None
    hints_given: list[int] = field(default_factory=list)
    refusals: int = 0
    deploy_tracked: bool = False
    shipped_at: datetime | None = None
    recovered_at: datetime | None = None
    ci: dict[str, dict[str, Any]] = field(default_factory=dict)
    anomalies: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)

    @property
    def is_open(self) -> bool:
        """Injected and not (currently) fixed."""
        return self.state in OPEN_STATES

    @property
    def clock_started_at(self) -> datetime | None:
        """When the team's clock starts: when the fault shipped, where deploys are tracked."""
        return self.shipped_at if self.deploy_tracked else self.injected_at

    @property
    def time_to_fix_s(self) -> float | None:
        """Seconds from the fault reaching the team to the fix (server or bot-observed times only)."""
        start = self.clock_started_at
        if self.fixed_at is None or start is None:
            return None
        return round(max(0.0, (self.fixed_at - start).total_seconds()), 3)

    @property
    def time_to_recover_s(self) -> float | None:
        """Seconds from the fault shipping to the fix shipping on a Healthy app."""
        if self.recovered_at is None or self.shipped_at is None:
            return None
        return round((self.recovered_at - self.shipped_at).total_seconds(), 3)

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
            "shipped_at": iso(self.shipped_at),
            "recovered_at": iso(self.recovered_at),
            "time_to_recover_s": self.time_to_recover_s,
            "injected_ci": self.ci.get("injected", {}).get("conclusion"),
            "fix_ci_conclusion": self.ci.get("fix", {}).get("conclusion"),
            "ci_runs": {role: {k: run.get(k) for k in ("name", "status", "conclusion", "started_at", "updated_at")}
                        for role, run in self.ci.items()},
            "anomalies": list(self.anomalies),
            "stale": bool(self.stale),
            "stale_sources": list(self.stale),
        }


def _when(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def fold(events: Iterable[Event]) -> list[FaultInstance]:
    """Every fault instance, in the order faults were first scheduled or injected."""
    instances: dict[tuple[str, str], FaultInstance] = {}
    stale: dict[str, dict[str, bool]] = {}
    for event in events:
        if event.kind in (STALE, FRESH):
            stale.setdefault(event.team, {})[str(event.facts.get("source"))] = event.kind == STALE
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
            instance.pr_pending = facts.get("pr_lookup") == "failed"
            instance.failing = []
        elif event.kind == REGRESSED:
            instance.state = State.regressed
            instance.regressions += 1
            instance.recovered_at = None
            instance.ci.pop("fix", None)
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
        elif event.kind == REFUSED:
            instance.refusals += 1
        elif event.kind == SKIPPED:
            instance.state = State.skipped
            instance.closed_at = event.at
        elif event.kind == HINT:
            instance.hints_given.append(int(facts.get("index", -1)))
        elif event.kind == TRACKED:
            instance.deploy_tracked = True
        elif event.kind == SHIPPED:
            instance.shipped_at = _when(facts.get("at"))
        elif event.kind == RECOVERED:
            instance.recovered_at = _when(facts.get("at"))
        elif event.kind == CI:
            instance.ci[str(facts.get("role"))] = dict(facts)
        elif event.kind == ANOMALY:
            instance.anomalies.append(str(facts.get("kind")))
    for instance in instances.values():
        instance.stale = sorted(s for s, on in stale.get(instance.team, {}).items() if on)
    return list(instances.values())
