"""Deploy tracking never stalls a team's game (issue 16 item 4), on the real daemon loop.

ArgoCD here never deploys the fault (a red build, a paused app): after `ship_timeout` the
team's clock starts at injection after all, or the bot reverts (`on_ship_timeout`). And a fix
ArgoCD never deploys stops holding back the next fault after `recover_timeout`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.game.events import ClockStarted, Kind, RecoverTimedOut
from bot.game.timeline import State
from tests.gameclock import T0, ticking
from tests.gitrepos import TeamRepo, git, make_team_repo
from tests.servers.argocd_api import DEFAULT_TOKEN, ArgoCDServer, serve_argocd

SELECTOR = "web-unreachable/service-selector-typo"
NEXT = "db-unreachable/db-host-typo"
APP = "team-a-chat"
ALICE = ["-c", "user.name=Alice Ng", "-c", "user.email=alice@example.com"]


def tracked_game(tmp_path: Path, remote: TeamRepo, argocd: ArgoCDServer, on_ship_timeout: str) -> Path:
    argocd.add_app(APP, remote.url)
    argocd.sync(APP, remote.head(), T0)  # the healthy start is deployed; nothing after it ever is
    path = tmp_path / "repos.yaml"
    path.write_text(
        "event: {name: Game day, state: sqlite:///state.db, workdir: cache}\n"
        f"argocd: {{url: '{argocd.url}', ship_timeout: 10m, on_ship_timeout: {on_ship_timeout}, recover_timeout: 20m}}\n"
        "defaults:\n  personas: [{name: Kenji Sato, email: k.sato@example.com}]\n"
        f"  scenario: {{faults: [{SELECTOR}, {NEXT}], order: fixed, first_delay: 0s, next_delay: 1m, "
        "time_limit: 45m, on_time_limit: revert}\n"
        f"teams:\n  - name: team-a\n    url: {remote.url}\n    argocd_app: {APP}\n",
        encoding="utf-8")
    return path


@pytest.fixture
def argocd(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ARGOCD_AUTH_TOKEN", DEFAULT_TOKEN)
    with serve_argocd() as server:
        yield server


def test_a_fault_never_shipped_is_timed_from_injection_and_a_fix_never_deployed_lets_the_game_go_on(
    tmp_path: Path, argocd: ArgoCDServer
) -> None:
    remote = make_team_repo(tmp_path)
    with ticking(tracked_game(tmp_path, remote, argocd, "start-clock")) as game:
        fault = game.tick(minutes=0)[SELECTOR]
        assert fault.state is State.injected and fault.injected_at == T0
        assert game.tick(minutes=5)[SELECTOR].clock_started_at is None  # waiting for the deploy
        started = game.tick(minutes=10)[SELECTOR]
        assert started.clock_started_at == T0 and "not-shipped" in started.anomalies
        clock = game.store.latest("team-a", ClockStarted, SELECTOR)
        assert clock is not None and clock.reason == "not-shipped"
        git(remote.clone, "pull", "-q", "--ff-only", "origin", "main")
        git(remote.clone, *ALICE, "revert", "--no-edit", fault.injected_sha or "")
        git(remote.clone, "push", "-q", "origin", "main")
        fixed = game.tick(minutes=12)[SELECTOR]
        assert fixed.state is State.fixed and fixed.time_to_fix_s == 12 * 60  # timed, from injection
        waiting = game.tick(minutes=31)
        assert NEXT not in waiting or waiting[NEXT].injected_at is None  # still waiting for the recovery
        game.tick(minutes=32)  # 20 minutes after the fix, which never deployed: give up waiting
        gave_up = game.store.latest("team-a", RecoverTimedOut, SELECTOR)
        assert gave_up is not None and gave_up.at == T0.replace(minute=32)
        after = game.tick(minutes=33)  # next_delay (1m) from there
    assert after[NEXT].state is State.injected


def test_a_fault_never_shipped_can_be_reverted_by_the_bot(tmp_path: Path, argocd: ArgoCDServer) -> None:
    remote = make_team_repo(tmp_path)
    with ticking(tracked_game(tmp_path, remote, argocd, "revert")) as game:
        game.tick(minutes=0)
        assert game.tick(minutes=9)[SELECTOR].state is State.injected
        closed = game.tick(minutes=10)[SELECTOR]
        assert game.store.events("team-a", kinds=(Kind.CLOCK_STARTED,)) == []
    assert closed.state is State.timed_out and closed.fix_kind == "bot-revert" and closed.fix_sha == remote.head()
    assert "app: frontend\n" in git(remote.bare, "show", "main:k8s/frontend-service.yaml")
