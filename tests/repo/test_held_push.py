"""A push held by a slow forge, and faultbot killed or giving up meanwhile (issue 15 item 2).

The smart-HTTP double reads a push, holds it ("hang pushes"), then applies it whether or not
the client is still there, as a real forge does. The issue lost the injection 2 of 2 times:
the git child outlived a kill -9, the restarted bot pushed a second commit, the first landed
meanwhile, the second failed ("cannot lock ref"), and later tries found the repo "already
broken" and skipped the fault while it was live on main. Here: the restarted faultbot waits
for the orphaned push (it holds the cache lock) and records that push as landed; and a commit
of ours found on the branch counts whichever intent it came from.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.app.cli import main
from bot.app.compose import make_injector, open_store
from bot.catalog.faults import Catalog
from bot.config import load_config, sqlite_url_for
from bot.errors import GitError
from bot.game.events import Intent, Kind, Landed
from bot.game.timeline import State, fold
from bot.store.eventlog import Store
from tests.app.outage_game import wait_until
from tests.gitrepos import TeamRepo, git, make_team_repo
from tests.servers.forge import BOT_TOKEN
from tests.servers.git_http import GitHTTPServer, serve_git_http

CATALOG = Catalog.load()
FAULT = "web-unreachable/service-selector-typo"
HOLD = 4.0  # seconds the forge holds each push before applying it


@pytest.fixture
def forge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[GitHTTPServer, TeamRepo]]:
    monkeypatch.setenv("GITHUB_TOKEN", BOT_TOKEN)
    remote = make_team_repo(tmp_path / "forge", "team-a")
    with serve_git_http(tmp_path / "forge", BOT_TOKEN, partial_clone=False) as server:
        yield server, remote


def _config(tmp_path: Path, server: GitHTTPServer, remote: TeamRepo, extra: str = "",
            scenario: str = "{seed: 1}") -> Path:
    path = tmp_path / "repos.yaml"
    path.write_text(
        "event: {name: Game day, state: sqlite:///state.db, workdir: cache}\n"
        "poll_interval: 1s\n" + extra +
        "defaults:\n  personas: [{name: Kenji Sato, email: k.sato@example.com}]\n"
        f"  scenario: {scenario}\n"
        f"teams:\n  - name: team-a\n    url: {server.url_for_path(remote.bare)}\n",
        encoding="utf-8",
    )
    return path


def _hold_pushes(server: GitHTTPServer, remote: TeamRepo) -> str:
    """Hold every push to the team's repo; the request line a held push shows."""
    line = f"POST /{remote.bare.relative_to(server.root).as_posix()}/git-receive-pack"
    server.outage.hang(HOLD, only=line)
    return line


def _pushes_done(server: GitHTTPServer) -> int:
    return sum(1 for r in server.requests if r.method == "POST" and r.path.endswith("/git-receive-pack"))


def _fault_commits(remote: TeamRepo) -> list[str]:
    return git(remote.bare, "log", "--author=Kenji Sato", "--format=%H", "main").split()


def _events(tmp_path: Path, kind: Kind) -> list[object]:
    store = Store(sqlite_url_for(tmp_path / "state.db"))
    try:
        return [e.facts for e in store.events("team-a", kinds=(kind,))]
    finally:
        store.close()


def _start(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "GITHUB_TOKEN": BOT_TOKEN}
    with log.open("ab") as sink:
        return subprocess.Popen([sys.executable, "-m", "bot", *args], env=env, stdout=sink, stderr=sink)


def test_kill_9_of_inject_during_a_held_push_is_recorded_once_on_restart(
    tmp_path: Path, forge: tuple[GitHTTPServer, TeamRepo], capsys: pytest.CaptureFixture[str]
) -> None:
    server, remote = forge
    config = _config(tmp_path, server, remote)
    line = _hold_pushes(server, remote)
    first = _start(["inject", "--config", str(config), "team-a", FAULT], tmp_path / "inject.log")
    assert wait_until(lambda: any(held == line for _, held in server.outage.served), 60), \
        (tmp_path / "inject.log").read_text()
    first.send_signal(signal.SIGKILL)
    assert first.wait(timeout=10) == -9
    # The killed inject's git is still waiting for the forge; inject again right away.
    assert main(["inject", "--config", str(config), "team-a", FAULT]) == 0, capsys.readouterr().err
    output = capsys.readouterr().out
    assert "found on the remote after an interrupted run" in output
    commits = _fault_commits(remote)
    assert len(commits) == 1 and _pushes_done(server) == 1  # one commit, pushed once
    (landed,) = _events(tmp_path, Kind.LANDED)
    assert isinstance(landed, Landed) and landed.recovered and landed.sha == commits[0]
    assert len(_events(tmp_path, Kind.INTENT)) == 1  # no second attempt was even made


def test_kill_9_of_the_daemon_during_a_held_push_then_restart_records_it_once(
    tmp_path: Path, forge: tuple[GitHTTPServer, TeamRepo]
) -> None:
    server, remote = forge
    config = _config(tmp_path, server, remote, scenario="{faults: [" + FAULT + "], first_delay: 0s, time_limit: 1h}")
    line = _hold_pushes(server, remote)
    log = tmp_path / "daemon.log"
    first = _start(["run", "--config", str(config)], log)
    assert wait_until(lambda: any(held == line for _, held in server.outage.served), 60), log.read_text()
    first.send_signal(signal.SIGKILL)
    assert first.wait(timeout=10) == -9
    restarted = _start(["run", "--config", str(config)], log)
    try:
        assert wait_until(lambda: bool(_events(tmp_path, Kind.LANDED)), 60), log.read_text()
        store = Store(sqlite_url_for(tmp_path / "state.db"))
        instance = fold(store.events("team-a"))[0]
        store.close()
    finally:
        restarted.terminate()
        assert restarted.wait(timeout=30) == 0
    commits = _fault_commits(remote)
    assert len(commits) == 1, commits
    (landed,) = _events(tmp_path, Kind.LANDED)
    assert isinstance(landed, Landed) and landed.recovered and landed.sha == commits[0]
    assert instance.state is State.injected and instance.injected_sha == commits[0]
    assert _events(tmp_path, Kind.REFUSED) == [] and _events(tmp_path, Kind.SKIPPED) == []


def test_a_push_given_up_on_that_lands_later_counts_whatever_came_after(
    tmp_path: Path, forge: tuple[GitHTTPServer, TeamRepo]
) -> None:
    server, remote = forge
    config = _config(tmp_path, server, remote, extra="timeouts: {git: 1s}\n")
    settings, _ = load_config(config)
    store = open_store(settings, config)
    injector = make_injector(settings, config, settings.team("team-a"), store)
    _hold_pushes(server, remote)
    with pytest.raises(GitError, match="gave no answer within 1s"):
        injector.inject(CATALOG.get(FAULT))  # the forge still holds push 1 ...
    with pytest.raises(GitError, match="gave no answer within 1s"):
        injector.inject(CATALOG.get(FAULT))  # ... so a second commit is pushed, and held too
    assert wait_until(lambda: _pushes_done(server) == 2, 90)  # push 1 landed, push 2 was refused
    server.outage.clear()
    intents = [e.facts for e in store.events("team-a", kinds=(Kind.INTENT,)) if isinstance(e.facts, Intent)]
    assert len(intents) == 2 and remote.head() == intents[0].sha  # the first landed, the latest did not
    result = injector.inject(CATALOG.get(FAULT))
    store.close()
    assert result.recovered and result.sha == intents[0].sha
    assert _fault_commits(remote) == [intents[0].sha]
