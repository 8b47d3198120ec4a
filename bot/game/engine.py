"""The rules of the game, as a pure function: given a team's plan, what the log says about
its faults, and the time, decide what to do next. No git, no HTTP, no clock inside — which
is what lets every rule be tested in milliseconds with time moved by the test.

Rules:
- faults come one at a time, in the plan's order; the first after `first_delay` from the
  event's start, each next one `next_delay` after the previous one was resolved (fixed by
  the team — and, where ArgoCD is tracked, recovered — or closed by the bot);
- with deploy tracking, a fault's time (limit, hints) starts when it ships, not when it
  is pushed: a red build or a paused app is not the team's time;
- an open fault (injected or regressed) past `time_limit` is reverted by the bot
  (`on_time_limit: revert`) or marked timed out and left broken (`leave`);
- hints fall due `after` their delay from injection, once each;
- once the organizer halts (a team or everyone), no fault is injected and every open
  fault is reverted; after the event's end no new fault is injected.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from bot.game.plan import TeamPlan
from bot.game.timeline import FaultInstance, State


class Act(StrEnum):
    schedule = "schedule"  # record when the next fault is due (for the timeline)
    inject = "inject"
    revert = "revert"      # the bot reverts an open fault (time limit or halt)
    time_out = "time_out"  # time limit with on_time_limit: leave
    hint = "hint"


@dataclass(frozen=True)
class Action:
    """One thing the daemon should do for a team."""

    act: Act
    team: str
    fault: str
    reason: str = ""
    due: datetime | None = None
    hint_index: int | None = None


@dataclass(frozen=True)
class TeamView:
    """Everything the engine may know about one team."""

    plan: TeamPlan
    started_at: datetime
    instances: Mapping[str, FaultInstance]
    hint_delays: Mapping[str, Sequence[timedelta]] = field(default_factory=dict)
    halted: bool = False
    ends_at: datetime | None = None
    deploy_tracking: bool = False  # ArgoCD tracked: wait for *recovered*, time from *shipped*


@dataclass(frozen=True)
class Decision:
    """What to do now, and when to look again (None: nothing will ever be due by time alone)."""

    actions: tuple[Action, ...]
    next_wakeup: datetime | None
    finished: bool = False


def _earliest(*moments: datetime | None) -> datetime | None:
    present = [m for m in moments if m is not None]
    return min(present) if present else None


def decide(view: TeamView, now: datetime) -> Decision:
    """The actions due for one team at `now`."""
    plan = view.plan
    actions: list[Action] = []
    wakeup: datetime | None = None
    # Every open fault (normally one; an earlier fault can regress) runs its clock.
    for fault in plan.faults:
        instance = view.instances.get(fault)
        if instance is not None and instance.is_open:
            open_decision = _open_fault(view, instance, now)
            actions += open_decision.actions
            wakeup = _earliest(wakeup, open_decision.next_wakeup)
    # The next fault waits until every fault before it is resolved.
    previous_resolved: datetime | None = view.started_at
    for position, fault in enumerate(plan.faults):
        instance = view.instances.get(fault)
        if instance is not None and (instance.injected_at is not None or instance.state is State.skipped):
            previous_resolved = resolved_at(instance, view.deploy_tracking)
            if previous_resolved is None:
                return Decision(tuple(actions), wakeup)
            continue
        if view.halted or previous_resolved is None:
            return Decision(tuple(actions), wakeup)
        due = previous_resolved + plan.delay_before(position)
        if view.ends_at is not None and due >= view.ends_at:
            return Decision(tuple(actions), wakeup, finished=not actions and wakeup is None)
        if instance is None or instance.scheduled_at != due:
            actions.append(Action(Act.schedule, plan.team, fault, due=due))
        if now >= due:
            actions.append(Action(Act.inject, plan.team, fault, due=due))
            return Decision(tuple(actions), wakeup)
        return Decision(tuple(actions), _earliest(wakeup, due))
    return Decision(tuple(actions), wakeup, finished=not actions and wakeup is None)


def _open_fault(view: TeamView, instance: FaultInstance, now: datetime) -> Decision:
    plan = view.plan
    if view.halted:
        return Decision((Action(Act.revert, plan.team, instance.fault, reason="halt"),), None)
    started = clock_start(instance, view.deploy_tracking)
    if started is None:
        return Decision((), None)  # not shipped yet: the team's clock has not started
    deadline = started + plan.time_limit
    if now >= deadline:
        act = Act.revert if plan.on_time_limit == "revert" else Act.time_out
        return Decision((Action(act, plan.team, instance.fault, reason="time-limit"),), None)
    actions, next_hint = [], None
    for index, delay in enumerate(view.hint_delays.get(instance.fault, ())):
        if index in instance.hints_given:
            continue
        at = started + delay
        if now >= at:
            actions.append(Action(Act.hint, plan.team, instance.fault, hint_index=index))
        else:
            next_hint = _earliest(next_hint, at)
    return Decision(tuple(actions), _earliest(deadline, next_hint))


def resolved_at(instance: FaultInstance, deploy_tracking: bool) -> datetime | None:
    """When a fault stopped blocking the next one: fixed (and, with deploy tracking,
    recovered: the fix shipped on a Healthy app), or closed by the bot."""
    if instance.state is State.fixed:
        return instance.recovered_at if deploy_tracking else instance.fixed_at
    if instance.state in (State.timed_out, State.halted, State.skipped):
        return instance.closed_at
    return None


def clock_start(instance: FaultInstance, deploy_tracking: bool) -> datetime | None:
    """When the team's time starts: injection, or (with deploy tracking) when it shipped."""
    return instance.shipped_at if deploy_tracking else instance.injected_at
