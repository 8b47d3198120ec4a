"""The daemon's first round on a fresh event (issue 17, P1-daemon): what each team's first
tick asks of its forge between planning and the push of its first fault.

Assertions are on the requests the smart-HTTP double answered (protocol v2 names each one's
command), never on durations; bench/p1_inject.py measures the time.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.app.outage_game import running_game, wait_until
from tests.servers.forge import BOT_TOKEN
from tests.servers.git_http import GitHTTPRequest

ONE_FAULT_AT_ONCE = "{faults: [web-unreachable/service-selector-typo], first_delay: 0s..0s, time_limit: 1h}"


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", BOT_TOKEN)


def _until_first_push(requests: list[GitHTTPRequest], team: str) -> list[GitHTTPRequest]:
    mine = [r for r in requests if f"/{team}/" in r.path]
    pushes = [i for i, r in enumerate(mine) if r.method == "POST" and r.path.endswith("/git-receive-pack")]
    assert pushes, f"{team}: nothing pushed"
    return mine[:pushes[0]]


def test_the_first_fault_is_pushed_from_the_clone_the_plan_made(tmp_path: Path) -> None:
    """Between a team's clone (made to plan) and its first push, the forge is asked for the refs
    once more, by the poll's ls-remote; that found the branch where the clone left it, so the
    injection fetches nothing (its fetch was a third ref listing and a git process per team)."""
    with running_game(tmp_path, teams=2, poll="1h", scenario=ONE_FAULT_AT_ONCE) as game:
        assert wait_until(lambda: all(game.landed(t) for t in game.remotes), 120), "not every team got its fault"
        requests = list(game.server.requests)
    for team in game.remotes:
        before = _until_first_push(requests, team)
        asked = [r.command for r in before if r.command is not None]
        assert asked == ["ls-refs", "fetch", "ls-refs"], asked  # the clone (refs, then objects), the poll
