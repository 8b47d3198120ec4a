"""Fail-over (issue 13): two daemons on one state; the leader is killed with SIGKILL at each crash
point (before commit, before push, after push, after the revert's push) and the standby takes
over. On the team's remote and in the log afterwards: no duplicate fault commit or revert, none
lost, no event lost, nothing done by both (tests/app/failover.py says how each is judged).

Once per crash point and store here, to keep the suite fast; bench/bench_failover.py runs the
same trial five times per crash point and prints the take-over times and the totals.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.app.failover import CRASH_POINTS, run_trial


@pytest.mark.parametrize("phase", CRASH_POINTS)
def test_the_standby_takes_over_from_a_leader_killed_at(tmp_path: Path, state: str, phase: str) -> None:
    trial = run_trial(tmp_path, state, phase)
    assert trial.problems == []
    assert (trial.duplicates, trial.lost, trial.both_acted) == (0, 0, 0)
    assert 0 <= trial.takeover_s <= trial.resumed_s  # the new leader led before it acted, and after the kill
