"""The kill switch has no holes (issue 16 item 5; issue 15 item 3 for one team's outage).

`halt` tries every team and reports each on its own line (reverted / nothing open / failed:
why), and exits non-zero only after all were tried. A fault injected by hand outside the
plan is reverted on halt and times out like any other. (Reverts through a PR for
`delivery: pr` teams: tests/repo/test_strict_forge.py.)
"""

from __future__ import annotations

import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest

from bot.app.cli import main
from bot.game import events as ev
from bot.game.events import ALL_TEAMS
from bot.game.timeline import State
from tests.gameclock import SetClock, ticking
from tests.gitrepos import TeamRepo, git, make_team_repo

SELECTOR = "web-unreachable/service-selector-typo"
BY_HAND = "db-unreachable/db-host-typo"


def teams_config(tmp_path: Path, remotes: dict[str, TeamRepo], scenario: str = "{seed: 1}",
                 state: str = "sqlite:///state.db") -> Path:
    lines = [f"event: {{name: Game day, state: '{state}', workdir: cache}}",
             "defaults:", "  personas: [{name: Kenji Sato, email: k.sato@example.com}]", f"  scenario: {scenario}",
             "teams:"]
    for name, remote in remotes.items():
        lines += [f"  - name: {name}", f"    url: {remote.url}"]
    path = tmp_path / "repos.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def last_subject(remote: TeamRepo) -> str:
    return git(remote.bare, "log", "-1", "--format=%s", "main")


def test_halt_tries_every_team_and_says_how_each_went(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                      state_url: str) -> None:
    """On both stores: the organizer's halt must hold wherever the event log lives."""
    remotes = {n: make_team_repo(tmp_path / n, n) for n in ("team-a", "team-b", "team-c")}
    config = teams_config(tmp_path, remotes, state=state_url)
    for name in remotes:
        assert main(["inject", "--config", str(config), name, SELECTOR]) == 0
    capsys.readouterr()
    hidden = remotes["team-b"].bare.with_name("away.git")
    shutil.move(remotes["team-b"].bare, hidden)  # team-b's forge is unreachable

    assert main(["halt", "--config", str(config)]) == 2  # non-zero, but only after every team was tried
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3, lines
    assert lines[0].startswith("team-a: reverted") and lines[2].startswith("team-c: reverted")
    assert lines[1].startswith("team-b: failed: ") and "git" in lines[1]
    assert last_subject(remotes["team-a"]).startswith("Revert") and last_subject(remotes["team-c"]).startswith("Revert")

    shutil.move(hidden, remotes["team-b"].bare)  # back: the organizer halts again
    assert main(["halt", "--config", str(config)]) == 0
    assert capsys.readouterr().out.strip().splitlines() == [
        "team-a: nothing open", f"team-b: reverted {SELECTOR} ({remotes['team-b'].head()[:12]})", "team-c: nothing open"]


def test_a_fault_injected_by_hand_is_refused_while_another_is_open_unless_forced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    remote = make_team_repo(tmp_path)
    config = teams_config(tmp_path, {"team-a": remote})
    assert main(["inject", "--config", str(config), "team-a", SELECTOR]) == 0
    head = remote.head()
    capsys.readouterr()
    assert main(["inject", "--config", str(config), "team-a", BY_HAND]) == 2
    err = capsys.readouterr().err.strip()
    assert f"team-a already has an open fault ({SELECTOR}" in err and "--force" in err and "\n" not in err
    assert remote.head() == head
    assert main(["inject", "--config", str(config), "team-a", BY_HAND, "--force"]) == 0
    assert remote.head() != head


@pytest.mark.parametrize("ending", ["halt", "time-limit"])
def test_the_daemon_closes_a_fault_injected_by_hand_outside_the_plan(tmp_path: Path, ending: str) -> None:
    remote = make_team_repo(tmp_path)
    config = teams_config(tmp_path, {"team-a": remote},
                          f"{{faults: [{SELECTOR}], first_delay: 1h, time_limit: 10m, on_time_limit: revert}}")
    clock = SetClock(datetime.now(timezone.utc))  # `faultbot inject` below reads the system clock
    with ticking(config, clock) as game:
        game.tick(minutes=0)  # planned; the plan's fault is due in an hour
        assert main(["inject", "--config", str(config), "team-a", BY_HAND]) == 0  # by hand, not in the plan
        by_hand = game.tick(minutes=1)
        assert by_hand[BY_HAND].state is State.injected
        if ending == "halt":
            game.store.append(ALL_TEAMS, ev.Halt(), source="cli", at=clock.now())  # what `halt` records for a running daemon
            closed = game.tick(minutes=2)[BY_HAND]
            assert closed.state is State.halted
        else:
            closed = game.tick(minutes=12)[BY_HAND]
            assert closed.state is State.timed_out
    assert closed.fix_kind == "bot-revert" and closed.fix_sha == remote.head()
    assert "value: postgres\n" in git(remote.bare, "show", "main:k8s/backend.yaml")
