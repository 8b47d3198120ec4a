"""A regression after the time limit (issue 16 item 7), played on a real repository.

The team fixed the fault in 2 minutes (98 points); half an hour later, past the fault's
time limit, a teammate breaks it again in another way. The bot must not revert at once
(wiping out the fix: 98 → −10): the regression runs its own clock. And a bot revert that
conflicts is recorded once as needing the organizer, not retried on every look.
"""

from __future__ import annotations

from pathlib import Path

from bot.game.events import Kind
from bot.game.scoring import scoreboard
from bot.game.timeline import State
from tests.gameclock import ticking
from tests.gitrepos import TeamRepo, git, make_team_repo

SELECTOR = "web-unreachable/service-selector-typo"
ALICE = ["-c", "user.name=Alice Ng", "-c", "user.email=alice@example.com"]
SERVICE = "k8s/frontend-service.yaml"


def one_fault_game(tmp_path: Path, remote: TeamRepo) -> Path:
    path = tmp_path / "repos.yaml"
    path.write_text(
        "event: {name: Game day, state: sqlite:///state.db, workdir: cache}\n"
        "defaults:\n"
        "  personas: [{name: Kenji Sato, email: k.sato@example.com}]\n"
        f"  scenario: {{faults: [{SELECTOR}], first_delay: 0s, time_limit: 10m, on_time_limit: revert}}\n"
        f"teams:\n  - name: team-a\n    url: {remote.url}\n",
        encoding="utf-8",
    )
    return path


def team_edit(remote: TeamRepo, old: str, new: str, message: str) -> str:
    git(remote.clone, "pull", "-q", "--ff-only", "origin", "main")
    service = remote.clone / SERVICE
    service.write_text(service.read_text().replace(old, new))
    git(remote.clone, *ALICE, "commit", "-qam", message)
    git(remote.clone, "push", "-q", "origin", "main")
    return git(remote.clone, "rev-parse", "HEAD")


def test_a_regression_past_the_time_limit_gets_its_own_clock_and_keeps_the_fix(tmp_path: Path) -> None:
    remote = make_team_repo(tmp_path)
    with ticking(one_fault_game(tmp_path, remote)) as game:
        instance = game.tick(minutes=0)[SELECTOR]
        assert instance.state is State.injected
        team_edit(remote, "app: frontend-web", "app: frontend", "Restore the frontend selector")
        instance = game.tick(minutes=2)[SELECTOR]
        assert instance.state is State.fixed
        regression = team_edit(remote, "  selector:\n    app: frontend\n", "  selector:\n    app: frontend-v2\n",
                               "Select the v2 frontend pods")
        instance = game.tick(minutes=30)[SELECTOR]  # 20 minutes past the fault's time limit
        assert instance.state is State.regressed, "a regression after the limit must not be reverted at once"
        assert game.store.events("team-a", kinds=(Kind.TIMED_OUT, Kind.REVERT_FAILED)) == []
        instance = game.tick(minutes=39)[SELECTOR]
        assert instance.state is State.regressed
        instance = game.tick(minutes=41)[SELECTOR]  # the regression's own 10 minutes are up
    assert instance.state is State.timed_out and instance.bot_revert_sha == remote.head()
    assert git(remote.bare, "log", "-1", "--format=%B", "main").strip().endswith(f"This reverts commit {regression}.")
    assert "app: frontend\n" in git(remote.bare, "show", f"main:{SERVICE}")
    assert instance.fix_kind == "revert" and instance.fix_sha != instance.bot_revert_sha  # the fix stays the team's
    (team,) = scoreboard([instance])
    assert team.score == 98 - 10 and team.fixed == 1 and team.timed_out == 0  # the fix, less the regression


def test_a_conflicted_bot_revert_is_recorded_once_for_the_organizer(tmp_path: Path) -> None:
    remote = make_team_repo(tmp_path)
    with ticking(one_fault_game(tmp_path, remote)) as game:
        game.tick(minutes=0)
        team_edit(remote, "app: frontend-web", "app: frontend", "Restore the frontend selector")
        game.tick(minutes=2)
        team_edit(remote, "    app: frontend\n  ports", "    app: frontend-v2\n  ports", "Select the v2 frontend pods")
        game.tick(minutes=3)
        # Another change on the same line: undoing the regressing commit now conflicts.
        team_edit(remote, "app: frontend-v2\n  ports", "app: frontend-v3\n  ports", "Select the v3 frontend pods")
        game.tick(minutes=4)
        head = remote.head()
        for minute in (20, 21, 40, 90):
            instance = game.tick(minutes=minute)[SELECTOR]
    failed = game.store.events("team-a", kinds=(Kind.REVERT_FAILED,))
    assert len(failed) == 1, [e.facts for e in failed]
    assert "conflicts in k8s/frontend-service.yaml" in failed[0].facts.error  # type: ignore[attr-defined]
    assert instance.state is State.regressed and instance.needs_organizer is not None
    assert remote.head() == head  # nothing pushed
    assert "needs_organizer" in instance.as_json()
