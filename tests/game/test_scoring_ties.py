"""Scoring rules issue 16 found wrong (items 7 and 8): who ranks first on equal points, and
what a regression that the bot cleaned up costs."""

from __future__ import annotations

from bot.game.scoring import Outcome, score_instance, scoreboard
from bot.game.timeline import BOT
from tests.instances import at, instance


def test_a_team_that_fixed_nothing_ranks_after_an_equal_score_team_that_fixed_things() -> None:
    instances = [
        # 90 minutes to fix: the 10-point floor, less a regression: 0 points, 5,400 s of fixing.
        instance("fixer", "f1", "fixed", fix_kind="revert", ttf=5400.0, regressions=1),
        # Nothing fixed: 0 points, and no time to fix at all — which is not a time of zero.
        instance("idle", "f1", "timed-out", fix_kind="bot-revert", fixed_by=BOT, closed_at=at(minutes=45)),
    ]
    board = scoreboard(instances)
    assert [(t.rank, t.team, t.score) for t in board] == [(1, "fixer", 0), (2, "idle", 0)]
    assert [t.total_time_to_fix_s for t in board] == [5400.0, None]


def test_teams_that_fixed_nothing_still_share_a_rank() -> None:
    board = scoreboard([instance("b", "f1", "timed-out"), instance("a", "f1", "halted")])
    assert [(t.rank, t.team) for t in board] == [(1, "a"), (1, "b")]


def test_a_fix_that_regressed_and_was_then_reverted_by_the_bot_stays_the_teams() -> None:
    for state in ("timed-out", "halted"):
        scored = score_instance(instance("t", "f", state, fix_kind="revert", ttf=120.0, regressions=1,
                                         bot_revert_sha="e" * 40, closed_at=at(minutes=50)))
        assert (scored.outcome, scored.points, scored.time_to_fix_s) == (Outcome.fixed, 98 - 10, 120.0)
