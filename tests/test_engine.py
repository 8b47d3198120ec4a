"""The rules of the game, with time moved by the test (no sleeps, no git)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from bot.config import Config
from bot.game.engine import Act, TeamView, decide
from bot.game.plan import TeamPlan, make_plan
from bot.game.timeline import FaultInstance, State

T0 = datetime(2026, 12, 5, 14, 0, tzinfo=timezone.utc)
APPLICABLE = {
    "web-unreachable": ["web-unreachable/a", "web-unreachable/b", "web-unreachable/c"],
    "db-unreachable": ["db-unreachable/a", "db-unreachable/b"],
    "app-bug": ["app-bug/a", "app-bug/b", "app-bug/c"],
}


def config(**scenario: object) -> Config:
    return Config.model_validate({
        "event": {"name": "t"},
        "defaults": {"scenario": {"seed": 2026, "first_delay": "5m..15m", "next_delay": "2m..6m",
                                  "time_limit": "45m", **scenario}},
        "teams": [{"name": n, "url": f"file:///srv/{n}.git"} for n in ("team-a", "team-b", "team-c", "team-d")],
    })


PLAN = TeamPlan("team-a", ("f1", "f2", "f3"), timedelta(minutes=10), (timedelta(minutes=3), timedelta(minutes=4)),
                timedelta(minutes=45), "revert")


def injected(fault: str, at: datetime, **extra: object) -> FaultInstance:
    return FaultInstance("team-a", fault, state=State.injected, injected_at=at, injected_sha="abc", **extra)  # type: ignore[arg-type]


def fixed(fault: str, at: datetime, fixed_at: datetime) -> FaultInstance:
    return FaultInstance("team-a", fault, state=State.fixed, injected_at=at, fixed_at=fixed_at)


def view(*instances: FaultInstance, plan: TeamPlan = PLAN, **kw: object) -> TeamView:
    return TeamView(plan, T0, {i.fault: i for i in instances}, **kw)  # type: ignore[arg-type]


def acts(decision: object) -> list[tuple[str, str]]:
    return [(a.act.value, a.fault) for a in decision.actions]  # type: ignore[attr-defined]


def test_same_seed_same_plan_and_teams_differ() -> None:
    plans = [make_plan(t, APPLICABLE) for t in config().all_team_settings()]
    again = [make_plan(t, APPLICABLE) for t in config().all_team_settings()]
    assert plans == again
    assert len({(p.faults, p.first_delay) for p in plans}) > 1  # content and timing differ per team
    for plan in plans:
        assert {f.split("/")[0] for f in plan.faults} == set(APPLICABLE)  # one fault from each family
        assert timedelta(minutes=5) <= plan.first_delay <= timedelta(minutes=15)
        assert all(timedelta(minutes=2) <= d <= timedelta(minutes=6) for d in plan.next_delays)
    other_seed = [make_plan(t, APPLICABLE) for t in config(seed=7).all_team_settings()]
    assert other_seed != plans


def test_fixed_order_keeps_the_families_order() -> None:
    team = config(order="fixed", families=["db-unreachable", "web-unreachable"]).all_team_settings()[0]
    plan = make_plan(team, APPLICABLE)
    assert [f.split("/")[0] for f in plan.faults] == ["db-unreachable", "web-unreachable"]


def test_a_family_with_nothing_applicable_is_skipped_and_said() -> None:
    team = config().all_team_settings()[0]
    plan = make_plan(team, {k: v for k, v in APPLICABLE.items() if k != "app-bug"})
    assert plan.skipped_families == ("app-bug",) and len(plan.faults) == 2


def test_first_fault_waits_for_first_delay() -> None:
    early = decide(view(), T0 + timedelta(minutes=9))
    assert acts(early) == [("schedule", "f1")] and early.next_wakeup == T0 + timedelta(minutes=10)
    due = decide(view(), T0 + timedelta(minutes=10))
    assert acts(due) == [("schedule", "f1"), ("inject", "f1")]


def test_next_fault_only_after_the_previous_is_fixed() -> None:
    inj = T0 + timedelta(minutes=10)
    still_open = decide(view(injected("f1", inj)), inj + timedelta(minutes=30))
    assert acts(still_open) == [] and still_open.next_wakeup == inj + timedelta(minutes=45)
    fix = inj + timedelta(minutes=20)
    after_fix = decide(view(fixed("f1", inj, fix)), fix + timedelta(minutes=1))
    assert acts(after_fix) == [("schedule", "f2")] and after_fix.next_wakeup == fix + timedelta(minutes=3)
    assert acts(decide(view(fixed("f1", inj, fix)), fix + timedelta(minutes=3))) == [("schedule", "f2"), ("inject", "f2")]


def test_time_limit_reverts_or_leaves() -> None:
    inj = T0 + timedelta(minutes=10)
    late = inj + timedelta(minutes=45)
    assert acts(decide(view(injected("f1", inj)), late)) == [("revert", "f1")]
    leave = TeamPlan("team-a", PLAN.faults, PLAN.first_delay, PLAN.next_delays, PLAN.time_limit, "leave")
    assert acts(decide(view(injected("f1", inj), plan=leave), late)) == [("time_out", "f1")]
    closed = FaultInstance("team-a", "f1", state=State.timed_out, injected_at=inj, closed_at=late)
    resumed = decide(view(closed), late + timedelta(minutes=3))
    assert acts(resumed) == [("schedule", "f2"), ("inject", "f2")]  # the game goes on after a time-out


def test_hints_fall_due_once_each() -> None:
    inj = T0 + timedelta(minutes=10)
    hints = {"f1": [timedelta(minutes=10), timedelta(minutes=20)]}
    first = decide(view(injected("f1", inj), hint_delays=hints), inj + timedelta(minutes=11))
    assert [(a.act, a.hint_index) for a in first.actions] == [(Act.hint, 0)]
    assert first.next_wakeup == inj + timedelta(minutes=20)
    given = injected("f1", inj, hints_given=[0])
    assert acts(decide(view(given, hint_delays=hints), inj + timedelta(minutes=11))) == []


def test_end_of_event_stops_new_injections() -> None:
    ends = T0 + timedelta(minutes=30)
    inj = T0 + timedelta(minutes=10)
    decision = decide(view(fixed("f1", inj, T0 + timedelta(minutes=28)), ends_at=ends), T0 + timedelta(minutes=40))
    assert acts(decision) == [] and decision.finished


def test_halt_reverts_open_faults_and_stops_injections() -> None:
    inj = T0 + timedelta(minutes=10)
    assert acts(decide(view(injected("f1", inj), halted=True), inj + timedelta(minutes=1))) == [("revert", "f1")]
    assert acts(decide(view(halted=True), T0 + timedelta(hours=1))) == []


def test_a_regressed_earlier_fault_blocks_the_next_and_keeps_its_clock() -> None:
    inj = T0 + timedelta(minutes=10)
    regressed = FaultInstance("team-a", "f1", state=State.regressed, injected_at=inj, fixed_at=inj + timedelta(minutes=5))
    decision = decide(view(regressed), inj + timedelta(minutes=20))
    assert acts(decision) == [] and decision.next_wakeup == inj + timedelta(minutes=45)


def test_all_resolved_is_finished() -> None:
    inj = T0 + timedelta(minutes=10)
    done = [fixed(f, inj, inj + timedelta(minutes=1)) for f in PLAN.faults]
    assert decide(view(*done), inj + timedelta(hours=2)).finished


def test_a_skipped_fault_lets_the_game_go_on() -> None:
    skipped = FaultInstance("team-a", "f1", state=State.skipped, closed_at=T0 + timedelta(minutes=12))
    decision = decide(view(skipped), T0 + timedelta(minutes=15))
    assert acts(decision) == [("schedule", "f2"), ("inject", "f2")]  # 3 minutes after the skip
