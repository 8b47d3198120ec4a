"""A fix is recorded from git alone, then GitHub's PR data arrives as a second event
(`fix.pull_request`): the fold applies it to that fix only, and old logs still read."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from bot.game import events as ev
from bot.game.timeline import State, fold

T0 = datetime(2026, 12, 5, 14, 0, tzinfo=timezone.utc)
FIX, OTHER = "f" * 40, "e" * 40


def log(*facts: ev.Facts) -> list[ev.Event]:
    landed = ev.Landed(sha="a" * 40, parent="b" * 40, pushed_at=T0)
    return [ev.Event(i, T0 + timedelta(minutes=i), "team-a", "web/x", "poll", f) for i, f in enumerate((landed, *facts))]


def fixed(**extra: object) -> ev.Fixed:
    return ev.Fixed(sha=FIX, kind="revert", fixed_by=ev.Who("Alice Ng", "alice@example.com"),
                    fixed_at=T0 + timedelta(minutes=20), fixed_at_source="observed", uncertainty_s=30.0, **extra)  # type: ignore[arg-type]


def test_the_pr_replaces_the_observed_time_and_names_the_login() -> None:
    pr = ev.PullInfo(7, "alice", T0 + timedelta(minutes=5), T0 + timedelta(minutes=18), "https://github.example/pull/7")
    (before,) = fold(log(fixed(pr_lookup="pending")))
    assert before.state is State.fixed and before.pr_pending and before.fixed_at_source == "observed"
    (after,) = fold(log(fixed(pr_lookup="pending"), ev.FixPull(sha=FIX, pr=pr)))
    assert after.pr == pr and not after.pr_pending and after.fixed_at == pr.merged_at
    assert after.fixed_at_source == "github:merged_at" and after.fixed_at_uncertainty_s == 0
    assert after.fixed_by == ev.Who("Alice Ng", "alice@example.com", "alice")


def test_no_pr_leaves_the_observation_and_ends_the_wait() -> None:
    (after,) = fold(log(fixed(pr_lookup="pending"), ev.FixPull(sha=FIX, pr=None)))
    assert not after.pr_pending and after.pr is None and after.fixed_at == T0 + timedelta(minutes=20)


def test_pr_data_about_another_commit_changes_nothing() -> None:
    pr = ev.PullInfo(7, "alice", T0, T0 + timedelta(minutes=1))
    (after,) = fold(log(fixed(pr_lookup="pending"), ev.FixPull(sha=OTHER, pr=pr)))
    assert after.pr is None and after.pr_pending and after.fixed_at_source == "observed"


def test_older_logs_decode_and_fold_as_before() -> None:
    assert ev.decode("fix.pull_request", {"sha": FIX}) == ev.FixPull(sha=FIX)
    assert ev.decode("fix.pull_request", {}) == ev.FixPull()
    (old,) = fold(log(ev.decode("fix.detected", {"sha": FIX, "kind": "revert"})))  # written before pr_lookup existed
    assert old.state is State.fixed and not old.pr_pending
    failed = fixed(pr_lookup="failed")  # an earlier release's "GitHub did not answer" mark still waits for the PR
    pr = ev.PullInfo(7, "alice", T0, T0 + timedelta(minutes=18))
    (amended,) = fold(log(failed, ev.FixPull(sha=FIX, pr=pr)))
    assert amended.pr == pr and amended.fixed_at == pr.merged_at
    assert ev.encode(ev.FixPull(sha=FIX, pr=pr, source="webhook"))[0] == "fix.pull_request"
