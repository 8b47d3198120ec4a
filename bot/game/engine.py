"""The rules of the game, as a pure function: given a team's plan, what the log says about
its faults, and the time, decide what to do next. No git, no HTTP, no clock inside — which
is what lets every rule be tested in milliseconds with time moved by the test.

Rules:
- faults come one at a time, in the plan's order; the first after `first_delay` from the
  event's start, each next one `next_delay` after the previous one was resolved (fixed by
  the team — and, where ArgoCD is tracked, recovered — or closed by the bot);
- with deploy tracking, a fault's time (limit, hints) starts when it ships, not when it
  is pushed: a red build or a paused app is not the team's time. But no game waits
  forever: a fault not shipped `ship_timeout` after injection starts its clock at
  injection (`on_ship_timeout: start-clock`) or is reverted (`revert`), and a fixed fault
  not recovered `recover_timeout` after the fix stops blocking the next one;
- an open fault past `time_limit` is reverted by the bot (`on_time_limit: revert`) or
  marked timed out and left broken (`leave`). A regression runs its own clock from when it
  was seen: the time limit of the original fault does not punish a later break at once;
- a bot revert that could not be made (a conflict, a protected branch) is recorded once
  and left for the organizer: it is not tried again on every look;
- hints fall due `after` their delay from injection, once each;
- every open fault counts, also one injected by hand (`faultbot inject`) outside the plan:
  it times out, is reverted on halt, and holds back the plan's next fault while open;
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
    start_clock = "start_clock"  # not shipped within ship_timeout: time counts from injection
    recover_timeout = "recover_timeout"  # fixed, not recovered within recover_timeout: move on


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
    ship_timeout: timedelta | None = None  # None: wait for the deploy however long it takes
    on_ship_timeout: str = "start-clock"  # start-clock | revert
    recover_timeout: timedelta | None = None


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
    # Every open fault runs its clock: normally one; an earlier one can regress, and one
    # injected by hand outside the plan counts as much as a planned one.
    extra = [f for f in view.instances if f not in plan.faults]
    for fault in (*plan.faults, *extra):
        instance = view.instances.get(fault)
        if instance is not None and instance.is_open:
            open_decision = _open_fault(view, instance, now)
            actions += open_decision.actions
            wakeup = _earliest(wakeup, open_decision.next_wakeup)
    held_back = any(view.instances[f].is_open for f in extra)
    # The next fault waits until every fault before it is resolved.
    previous_resolved: datetime | None = view.started_at
    for position, fault in enumerate(plan.faults):
        instance = view.instances.get(fault)
        if instance is not None and (instance.injected_at is not None or instance.state is State.skipped):
            previous_resolved = resolved_at(instance, view.deploy_tracking)
            if previous_resolved is None:
                recovery = _recovery_deadline(view, instance)
                if recovery is None:
                    return Decision(tuple(actions), wakeup)
                if now < recovery:
                    return Decision(tuple(actions), _earliest(wakeup, recovery))
                actions.append(Action(Act.recover_timeout, plan.team, fault, reason="recover-timeout", due=recovery))
                previous_resolved = recovery
            continue
        if view.halted or previous_resolved is None:
            return Decision(tuple(actions), wakeup)
        due = previous_resolved + plan.delay_before(position)
        if view.ends_at is not None and due >= view.ends_at:
            return Decision(tuple(actions), wakeup, finished=not actions and wakeup is None)
        if instance is None or instance.scheduled_at != due:
            actions.append(Action(Act.schedule, plan.team, fault, due=due))
        if now >= due and not held_back:
            actions.append(Action(Act.inject, plan.team, fault, due=due))
            return Decision(tuple(actions), wakeup)
        return Decision(tuple(actions), _earliest(wakeup, due) if not held_back else wakeup)
    return Decision(tuple(actions), wakeup, finished=not actions and wakeup is None)


def _open_fault(view: TeamView, instance: FaultInstance, now: datetime) -> Decision:
    plan = view.plan
    if instance.needs_organizer is not None:
        return Decision((), None)  # the bot's revert failed once; the organizer takes it from here
    if view.halted:
        return Decision((Action(Act.revert, plan.team, instance.fault, reason="halt"),), None)
    actions: list[Action] = []
    started = clock_start(instance, view.deploy_tracking)
    if started is None:
        ship_due = _ship_deadline(view, instance)
        if ship_due is None or now < ship_due:
            return Decision((), ship_due)  # not shipped yet: the team's clock has not started
        if view.on_ship_timeout == "revert":
            return Decision((Action(Act.revert, plan.team, instance.fault, reason="not-shipped"),), None)
        started = instance.injected_at
        assert started is not None
        actions.append(Action(Act.start_clock, plan.team, instance.fault, reason="not-shipped", due=started))
    if instance.state is State.regressed and instance.regressed_at is not None:
        started = max(started, instance.regressed_at)  # a regression gets its own time limit
    deadline = started + plan.time_limit
    if now >= deadline:
        act = Act.revert if plan.on_time_limit == "revert" else Act.time_out
        return Decision((*actions, Action(act, plan.team, instance.fault, reason="time-limit")), None)
    next_hint = None
    for index, delay in enumerate(view.hint_delays.get(instance.fault, ())):
        if index in instance.hints_given:
            continue
        at = started + delay
        if now >= at:
            actions.append(Action(Act.hint, plan.team, instance.fault, hint_index=index))
        else:
            next_hint = _earliest(next_hint, at)
    return Decision(tuple(actions), _earliest(deadline, next_hint))


def _ship_deadline(view: TeamView, instance: FaultInstance) -> datetime | None:
    if view.ship_timeout is None or instance.injected_at is None:
        return None
    return instance.injected_at + view.ship_timeout


def _recovery_deadline(view: TeamView, instance: FaultInstance) -> datetime | None:
    """When a fixed fault that has not recovered stops blocking the next one (None: never)."""
    if instance.state is not State.fixed or view.recover_timeout is None or instance.fixed_at is None:
        return None
    return instance.fixed_at + view.recover_timeout


def resolved_at(instance: FaultInstance, deploy_tracking: bool) -> datetime | None:
    """When a fault stopped blocking the next one: fixed (and, with deploy tracking,
    recovered — or given up on after the recover timeout), or closed by the bot."""
    if instance.state is State.fixed:
        if not deploy_tracking:
            return instance.fixed_at
        return instance.recovered_at or instance.recover_timed_out_at
    if instance.state in (State.timed_out, State.halted, State.skipped):
        return instance.closed_at
    return None


def clock_start(instance: FaultInstance, deploy_tracking: bool) -> datetime | None:
    """When the team's time starts: injection, or (with deploy tracking) when it shipped —
    or at injection after all, once it was recorded as not shipped in time."""
    if instance.clock_started is not None:
        return instance.clock_started
    return instance.shipped_at if deploy_tracking else instance.injected_at
