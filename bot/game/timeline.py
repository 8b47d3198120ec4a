"""Fold the append-only event log into fault instances: the state `status` and the
scoreboard show, derived and never stored, so it cannot drift from what happened.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from bot.game import events as ev
from bot.game.events import CIRun, Event, PullInfo, Who


class State(StrEnum):
    scheduled = "scheduled"
    injected = "injected"
    fixed = "fixed"
    regressed = "regressed"
    timed_out = "timed-out"
    halted = "halted"
    skipped = "skipped"  # could not be injected (repeatedly refused): the game moves on


OPEN_STATES = (State.injected, State.regressed)
TEAM_FIX_KINDS = ("revert", "forward-fix")
BOT = Who(name="faultbot")  # who a bot revert is by, everywhere it is shown


@dataclass(frozen=True)
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
    binding: Mapping[str, Any] = field(default_factory=dict)
    variant: str = ""  # which of the fault's variants was applied
    fix_sha: str | None = None
    fix_kind: str | None = None
    fixed_by: Who | None = None
    pr: PullInfo | None = None
    fixed_at: datetime | None = None
    fixed_at_source: str | None = None
    fixed_at_uncertainty_s: float | None = None
    pr_pending: bool = False
    regressions: int = 0
    regressed_at: datetime | None = None
    """When the bot saw the latest regression: a regression runs its own clock."""
    regressed_sha: str | None = None
    bot_revert_sha: str | None = None
    needs_organizer: str | None = None
    """Why the bot's revert could not be made (recorded once; the bot does not retry by itself)."""
    clock_started: datetime | None = None
    """Set when the clock started without the fault shipping (ship_timeout passed)."""
    recover_timed_out_at: datetime | None = None
    failing: tuple[str, ...] = ()
    progress: tuple[int, int] | None = None
    first_response: ev.Response | None = None
    closed_at: datetime | None = None
    hints_given: tuple[int, ...] = ()
    hints: tuple[tuple[datetime, str], ...] = ()
    """(when, text) of every hint given: organizer-only text."""
    refusals: int = 0
    deploy_tracked: bool = False
    shipped_at: datetime | None = None
    recovered_at: datetime | None = None
    ci: Mapping[str, CIRun] = field(default_factory=dict)
    anomalies: tuple[str, ...] = ()
    stale: tuple[str, ...] = ()
    pager: ev.PagerIncident | None = None
    closed_reason: str | None = None
    halted_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        """Injected and not (currently) fixed."""
        return self.state in OPEN_STATES

    @property
    def clock_started_at(self) -> datetime | None:
        """When the team's clock starts: when the fault shipped, where deploys are tracked
        (or at injection, once it did not ship within the ship timeout)."""
        if self.clock_started is not None:
            return self.clock_started
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

    @property
    def resolved_at(self) -> datetime | None:
        """When the fault stopped being open: fixed, or closed by the bot (time limit, halt)."""
        return self.fixed_at if self.state is State.fixed else self.closed_at

    @property
    def mtta_s(self) -> float | None:
        """Seconds from PagerDuty opening the fault's incident to its first acknowledgement."""
        pager = self.pager
        if pager is None or pager.opened_at is None or pager.acknowledged_at is None:
            return None
        return round(max(0.0, (pager.acknowledged_at - pager.opened_at).total_seconds()), 3)

    @property
    def first_update_s(self) -> float | None:
        """Seconds from the incident opening to the team's first status update on it."""
        pager = self.pager
        updates = [m.at for m in pager.messages if m.kind == "status_update" and m.at] if pager else []
        if pager is None or pager.opened_at is None or not updates:
            return None
        return round(max(0.0, (min(updates) - pager.opened_at).total_seconds()), 3)

    def as_json(self) -> dict[str, Any]:
        """The `status --json` shape."""
        def iso(moment: datetime | None) -> str | None:
            return moment.isoformat() if moment else None

        def plain(value: Any) -> Any:
            return ev.to_json(value) if value is not None else None

        return {
            "team": self.team,
            "fault": self.fault,
            "state": self.state.value,
            "injected_sha": self.injected_sha,
            "injected_at": iso(self.injected_at),
            "fix_sha": self.fix_sha,
            "fix_kind": self.fix_kind,
            "fixed_by": _compact(plain(self.fixed_by)),
            "pr": plain(self.pr),
            "fixed_at": iso(self.fixed_at),
            "fixed_at_source": self.fixed_at_source,
            "fixed_at_uncertainty_s": self.fixed_at_uncertainty_s,
            "time_to_fix_s": self.time_to_fix_s,
            "regressions": self.regressions,
            "regressed_at": iso(self.regressed_at),
            "bot_revert_sha": self.bot_revert_sha,
            "needs_organizer": self.needs_organizer,
            "checks_failing": list(self.failing),
            "checks_passing": list(self.progress) if self.progress else None,
            "first_response": _compact(plain(self.first_response)),
            "closed_at": iso(self.closed_at),
            "hints_given": list(self.hints_given),
            "shipped_at": iso(self.shipped_at),
            "recovered_at": iso(self.recovered_at),
            "time_to_recover_s": self.time_to_recover_s,
            "injected_ci": self.ci["injected"].conclusion if "injected" in self.ci else None,
            "fix_ci_conclusion": self.ci["fix"].conclusion if "fix" in self.ci else None,
            "ci_runs": {role: {"name": run.name, "status": run.status, "conclusion": run.conclusion,
                               "started_at": iso(run.started_at), "updated_at": iso(run.updated_at)}
                        for role, run in self.ci.items()},
            "anomalies": list(self.anomalies),
            "stale": bool(self.stale),
            "stale_sources": list(self.stale),
            "closed_reason": self.closed_reason,
            "hints": [{"at": iso(at), "text": text} for at, text in self.hints],
            "incident": _compact(plain(self.pager)),
            "mtta_s": self.mtta_s,
            "first_update_s": self.first_update_s,
        }


def _compact(value: Any) -> Any:
    """Drop the keys a fact left empty, as the untyped log never wrote them."""
    return {k: v for k, v in value.items() if v is not None} if isinstance(value, dict) else value


def numbered(instances: Iterable[FaultInstance]) -> list[tuple[FaultInstance, int]]:
    """Injected instances with their incident number in their team's game (1, 2, ...), by team, then time."""
    counts: dict[str, int] = {}
    found = []
    for instance in sorted((i for i in instances if i.injected_at), key=lambda i: (i.team, i.injected_at)):
        counts[instance.team] = counts.get(instance.team, 0) + 1
        found.append((instance, counts[instance.team]))
    return found


def fold(events: Iterable[Event]) -> list[FaultInstance]:
    """Every fault instance, in the order faults were first scheduled or injected."""
    instances: dict[tuple[str, str], FaultInstance] = {}
    stale: dict[str, dict[str, bool]] = {}
    for event in events:
        facts = event.facts
        if isinstance(facts, (ev.Stale, ev.Fresh)):
            stale.setdefault(event.team, {})[facts.source] = isinstance(facts, ev.Stale)
        if event.fault is None:
            continue
        key = (event.team, event.fault)
        instance = instances.get(key) or FaultInstance(event.team, event.fault)
        instances[key] = _apply(instance, event)
    return [replace(i, stale=tuple(sorted(s for s, on in stale.get(i.team, {}).items() if on)))
            for i in instances.values()]


def _apply(instance: FaultInstance, event: Event) -> FaultInstance:
    """One event's effect on one fault instance."""
    facts = event.facts
    match facts:
        case ev.Scheduled():
            return replace(instance, scheduled_at=facts.at or event.at)
        case ev.Landed():
            return replace(instance, state=State.injected, injected_sha=facts.sha,
                           landed_sha=facts.landed_sha or facts.sha, parent_sha=facts.parent or None,
                           injected_at=facts.pushed_at or event.at, injected_pr=facts.pr, binding=facts.binding,
                           variant=facts.variant)
        case ev.Fixed():
            return replace(instance, state=State.fixed, fix_sha=facts.sha, fix_kind=facts.kind,
                           fixed_by=facts.fixed_by, pr=facts.pr, fixed_at=facts.fixed_at or event.at,
                           fixed_at_source=facts.fixed_at_source, fixed_at_uncertainty_s=facts.uncertainty_s,
                           pr_pending=facts.pr_lookup in ("pending", "failed"), failing=(), needs_organizer=None)
        case ev.FixPull():
            if facts.sha != instance.fix_sha or not instance.pr_pending:
                return instance  # about an earlier fix, or already told
            if facts.pr is None or facts.pr.merged_at is None:
                return replace(instance, pr_pending=False)  # no PR merged it: our observation stands
            who = replace(instance.fixed_by or Who(), login=facts.pr.author)
            return replace(instance, pr=facts.pr, pr_pending=False, fixed_at=facts.pr.merged_at,
                           fixed_at_source="github:merged_at", fixed_at_uncertainty_s=0, fixed_by=who)
        case ev.Regressed():
            ci = {role: run for role, run in instance.ci.items() if role != "fix"}
            return replace(instance, state=State.regressed, regressions=instance.regressions + 1,
                           regressed_at=event.at, regressed_sha=facts.sha or None, recovered_at=None,
                           recover_timed_out_at=None, needs_organizer=None, ci=ci)
        case ev.RevertFailed():
            return replace(instance, needs_organizer=facts.error or "the bot's revert failed")
        case ev.Progress():
            return replace(instance, failing=tuple(facts.failing), progress=(facts.passing, facts.total))
        case ev.Response():
            return replace(instance, first_response=facts)
        case ev.Closed():
            halted = isinstance(facts, ev.Halted)
            closed = replace(instance, state=State.halted if halted else State.timed_out,
                             closed_at=event.at, failing=(), closed_reason=facts.reason or None,
                             halted_at=event.at if halted else instance.halted_at, needs_organizer=None,
                             bot_revert_sha=facts.revert_sha)
            if facts.revert_sha and instance.fix_kind not in TEAM_FIX_KINDS:
                # The revert commit carries a persona's name, but it was the bot's act: never a team's.
                # (After a regression the bot undoes the regression: the team's earlier fix stays theirs.)
                closed = replace(closed, fix_sha=facts.revert_sha, fix_kind="bot-revert", fixed_by=BOT)
            return closed
        case ev.Refused():
            return replace(instance, refusals=instance.refusals + 1)
        case ev.Skipped():
            return replace(instance, state=State.skipped, closed_at=event.at)
        case ev.Hint():
            return replace(instance, hints_given=(*instance.hints_given, facts.index),
                           hints=(*instance.hints, (event.at, facts.text)))
        case ev.PagerIncident():
            return replace(instance, pager=facts)
        case ev.Tracked():
            return replace(instance, deploy_tracked=True)
        case ev.Shipped():
            return replace(instance, shipped_at=facts.at)
        case ev.Recovered():
            return replace(instance, recovered_at=facts.at)
        case ev.ClockStarted():
            return replace(instance, clock_started=facts.at or event.at)
        case ev.RecoverTimedOut():
            return replace(instance, recover_timed_out_at=facts.at or event.at)
        case ev.CIRun():
            return replace(instance, ci={**instance.ci, facts.role: facts})
        case ev.Anomaly():
            return replace(instance, anomalies=(*instance.anomalies, facts.kind))
    return instance

