"""No game stalls and no rule punishes twice (issue 16 items 4, 5, 7), with time moved by the test.

- a fault that never ships starts its clock at injection after `ship_timeout` (or is reverted);
- a fixed fault that never recovers stops holding back the next one after `recover_timeout`;
- a regression runs its own time limit, from when it was seen;
- a bot revert that failed is left to the organizer, not asked for again;
- a fault injected by hand, outside the plan, times out, is reverted on halt, and holds the
  plan's next fault back while it is open.
"""

from __future__ import annotations

from datetime import timedelta

from bot.game.engine import Act, decide
from bot.game.timeline import FaultInstance, State
from tests.game.test_engine import PLAN, T0, acts, fixed, injected, view

INJ = T0 + timedelta(minutes=10)
TRACKED = {"deploy_tracking": True, "ship_timeout": timedelta(minutes=10), "recover_timeout": timedelta(minutes=20)}


def test_a_fault_that_never_ships_starts_its_clock_at_injection_after_the_ship_timeout() -> None:
    waiting = decide(view(injected("f1", INJ), **TRACKED), INJ + timedelta(minutes=5))
    assert acts(waiting) == [] and waiting.next_wakeup == INJ + timedelta(minutes=10)  # not None: a wake-up
    late = decide(view(injected("f1", INJ), **TRACKED), INJ + timedelta(minutes=10))
    assert [(a.act, a.due) for a in late.actions] == [(Act.start_clock, INJ)]
    assert late.next_wakeup == INJ + PLAN.time_limit
    started = injected("f1", INJ, clock_started=INJ)
    assert acts(decide(view(started, **TRACKED), INJ + PLAN.time_limit)) == [("revert", "f1")]
    assert started.clock_started_at == INJ


def test_a_fault_that_never_ships_can_be_reverted_instead() -> None:
    decision = decide(view(injected("f1", INJ), **TRACKED, on_ship_timeout="revert"), INJ + timedelta(minutes=10))
    assert [(a.act, a.reason) for a in decision.actions] == [(Act.revert, "not-shipped")]


def test_a_fix_that_never_recovers_stops_holding_back_the_next_fault() -> None:
    fix = INJ + timedelta(minutes=20)
    never = FaultInstance("team-a", "f1", state=State.fixed, injected_at=INJ, shipped_at=INJ, fixed_at=fix)
    waiting = decide(view(never, **TRACKED), fix + timedelta(minutes=10))
    assert acts(waiting) == [] and waiting.next_wakeup == fix + timedelta(minutes=20)
    given_up = decide(view(never, **TRACKED), fix + timedelta(minutes=20))
    assert [(a.act, a.fault) for a in given_up.actions][0] == (Act.recover_timeout, "f1")
    recorded = FaultInstance("team-a", "f1", state=State.fixed, injected_at=INJ, shipped_at=INJ, fixed_at=fix,
                             recover_timed_out_at=fix + timedelta(minutes=20))
    moves_on = decide(view(recorded, **TRACKED), fix + timedelta(minutes=23))
    assert acts(moves_on) == [("schedule", "f2"), ("inject", "f2")]  # next_delay (3m) from giving up


def test_a_regression_past_the_time_limit_gets_its_own_time_limit() -> None:
    seen = INJ + timedelta(minutes=50)
    regressed = FaultInstance("team-a", "f1", state=State.regressed, injected_at=INJ, fixed_at=INJ + timedelta(minutes=5),
                              regressed_at=seen, fix_kind="revert")
    decision = decide(view(regressed), seen + timedelta(minutes=1))
    assert acts(decision) == [] and decision.next_wakeup == seen + PLAN.time_limit
    assert acts(decide(view(regressed), seen + PLAN.time_limit)) == [("revert", "f1")]


def test_a_failed_bot_revert_is_left_to_the_organizer() -> None:
    stuck = injected("f1", INJ, needs_organizer="reverting abc conflicts in k8s/a.yaml")
    assert acts(decide(view(stuck), INJ + timedelta(hours=3))) == []
    assert acts(decide(view(stuck, halted=True), INJ + timedelta(hours=3))) == []


def test_a_fault_injected_by_hand_times_out_is_halted_and_holds_the_plan_back() -> None:
    by_hand = FaultInstance("team-a", "db-unreachable/x", state=State.injected, injected_at=T0, injected_sha="abc")
    held = decide(view(by_hand), T0 + timedelta(minutes=20))  # f1 was due at T0+10m
    assert ("inject", "f1") not in acts(held) and held.next_wakeup == T0 + PLAN.time_limit
    assert acts(decide(view(by_hand), T0 + PLAN.time_limit)) == [("revert", "db-unreachable/x"), ("schedule", "f1")]
    assert acts(decide(view(by_hand, halted=True), T0 + timedelta(minutes=1))) == [("revert", "db-unreachable/x")]
    closed = FaultInstance("team-a", "db-unreachable/x", state=State.timed_out, injected_at=T0, closed_at=T0)
    assert acts(decide(view(closed), T0 + timedelta(minutes=20))) == [("schedule", "f1"), ("inject", "f1")]


def test_the_plans_own_faults_keep_their_order_and_clocks() -> None:
    """Guards the rules above: a plain open fault still times out as before."""
    assert acts(decide(view(injected("f1", INJ)), INJ + PLAN.time_limit)) == [("revert", "f1")]
    assert acts(decide(view(fixed("f1", INJ, INJ + timedelta(minutes=1))), INJ + timedelta(minutes=4))) == [
        ("schedule", "f2"), ("inject", "f2")]
