"""Scoring from FaultInstance values: points, outcomes (halted is not timed out), ranking,
and the optional communication points from PagerDuty's times."""

from __future__ import annotations

from typing import Any

import pytest

from bot.config import ScoringSettings
from bot.game.scoring import DEFAULT_RULES, Outcome, rules_from, rules_text, score_instance, scoreboard
from tests.instances import at, game, instance, pager


def test_ranking_and_scores() -> None:
    board = scoreboard(game())
    assert [(t.rank, t.team, t.score) for t in board] == [
        (1, "team-a", 96), (2, "team-b", 88), (3, "team-c", 0), (3, "team-d", 0)]
    a, b, c, d = board
    assert (a.fixed, a.reverts, a.forward_fixes, a.timed_out, a.open) == (1, 1, 0, 0, 0)
    assert (b.fixed, b.forward_fixes, b.regressions) == (1, 1, 1)
    assert (c.fixed, c.timed_out, c.halted, c.open) == (0, 1, 0, 1)
    assert (d.timed_out, d.halted) == (0, 1)  # the organizer's kill switch is not the team's time-out
    assert a.median_time_to_fix_s == 252.0 and a.median_first_response_s == 90.0
    assert a.median_mtta_s == 120.0  # opened at +1m, acknowledged at +3m
    assert b.total_time_to_fix_s == 750.0 and b.median_first_response_s == 300.0
    assert c.total_time_to_fix_s is None and c.median_time_to_fix_s is None  # a bot revert is no fix time
    assert [f.outcome for f in c.faults] == [Outcome.timed_out, Outcome.open]
    assert [f.outcome for f in d.faults] == [Outcome.halted]


@pytest.mark.parametrize(("fields", "points"), [
    ({"fix_kind": "revert", "ttf": 299.0}, 96),           # 4m59s: whole minutes only
    ({"fix_kind": "revert", "ttf": 0.0}, 100),
    ({"fix_kind": "forward-fix", "ttf": 60.0}, 109),      # 99 + forward-fix bonus
    ({"fix_kind": "revert", "ttf": 3 * 3600.0}, 10),      # floor
    ({"fix_kind": "forward-fix", "ttf": 3 * 3600.0}, 20),  # floor + bonus
    ({"fix_kind": "revert", "ttf": 120.0, "regressions": 2}, 78),
    ({"fix_kind": "revert", "ttf": -5.0}, 100),           # clock skew counts as zero
    ({"fix_kind": None, "ttf": 600.0}, 90),               # unknown kind: a fix, no bonus
])
def test_points_for_a_team_fix(fields: dict[str, Any], points: int) -> None:
    scored = score_instance(instance("t", "f", "fixed", **fields))
    assert scored.outcome is Outcome.fixed and scored.points == points


def test_a_fix_without_usable_times_earns_the_floor() -> None:
    unknown = score_instance(instance("t", "f", "fixed", fix_kind="revert", injected_at=None))
    assert unknown.time_to_fix_s is None and unknown.points == DEFAULT_RULES.floor


def test_the_clock_starts_when_the_fault_shipped_where_deploys_are_tracked() -> None:
    shipped = instance("t", "f", "fixed", fix_kind="revert", ttf=600.0, deploy_tracked=True,
                       shipped_at=at(minutes=4))
    assert score_instance(shipped).time_to_fix_s == 360.0 and score_instance(shipped).points == 94


@pytest.mark.parametrize(("state", "fields", "outcome", "points"), [
    ("timed-out", {}, Outcome.timed_out, 0),
    ("halted", {}, Outcome.halted, 0),
    ("timed-out", {"fix_kind": "bot-revert"}, Outcome.timed_out, 0),
    ("halted", {"fix_kind": "bot-revert"}, Outcome.halted, 0),
    # Fixed once, then broken again and still broken: open, and the regression costs.
    ("regressed", {"fix_kind": "revert", "fixed_at": at(minutes=2), "regressions": 1}, Outcome.open, -10),
    ("scheduled", {"injected_at": None}, Outcome.scheduled, 0),
    ("skipped", {"injected_at": None}, Outcome.scheduled, 0),
])
def test_outcomes_that_are_not_team_fixes(state: str, fields: dict[str, Any], outcome: Outcome, points: int) -> None:
    scored = score_instance(instance("t", "f", state, **fields))
    assert (scored.outcome, scored.points, scored.time_to_fix_s) == (outcome, points, None)


def test_ties_break_on_total_time_then_share_a_rank() -> None:
    instances = [
        instance("slow", "f1", "fixed", fix_kind="forward-fix", ttf=1200.0),  # 80 + 10
        instance("fast", "f1", "fixed", fix_kind="revert", ttf=600.0),        # 90
        instance("twin-b", "f1", "fixed", fix_kind="revert", ttf=3000.0),     # 50
        instance("twin-a", "f1", "fixed", fix_kind="revert", ttf=3000.0),     # 50
    ]
    assert [(t.rank, t.team, t.score) for t in scoreboard(instances)] == [
        (1, "fast", 90), (2, "slow", 90), (3, "twin-a", 50), (3, "twin-b", 50)]


COMMS = rules_from(ScoringSettings.model_validate({"acknowledge_within": "5m", "acknowledge_points": 15,
                                                    "status_update_within": "10m", "status_update_points": 5}))


@pytest.mark.parametrize(("incident", "extra"), [
    (pager(opened=1, acked=6, updates=(11,)), 20),   # acknowledged after exactly 5m, updated after exactly 10m
    (pager(opened=1, acked=6.1, updates=(11,)), 5),  # 5m06s: too late for the acknowledgement points
    (pager(opened=1, acked=2, updates=(12,)), 15),   # the first update came 11m after the incident opened
    (pager(opened=1, acked=2, notes=(3,)), 15),      # a note is not a status update
    (pager(opened=1), 0),                            # never acknowledged
    (None, 0),                                       # no PagerDuty incident at all
])
def test_communication_points_follow_pagerdutys_times(incident: Any, extra: int) -> None:
    fixed = instance("t", "f", "fixed", fix_kind="revert", ttf=600.0, pager=incident)
    scored = score_instance(fixed, COMMS)
    assert scored.communication_points == extra and scored.points == 90 + extra
    assert score_instance(fixed).points == 90  # off unless repos.yaml turns it on


def test_communication_points_count_even_when_the_fault_timed_out() -> None:
    late = instance("t", "f", "timed-out", fix_kind="bot-revert", pager=pager(opened=0, acked=1, updates=(2,)))
    assert score_instance(late, COMMS).points == 20


def test_the_rules_say_the_communication_points_only_when_on() -> None:
    assert not any("PagerDuty incident" in line for line in rules_text())
    said = " ".join(rules_text(COMMS))
    assert "within 5 min earns +15" in said and "within 10 min of the incident opening earns +5" in said
    assert COMMS.as_json()["acknowledge_within_s"] == 300.0
