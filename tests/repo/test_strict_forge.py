"""faultbot against test doubles as strict as GitHub: the bugs they exposed (issues 15 and 16).

A test still marked as an expected failure (`xfail(strict=True)`) names the issue item it
proves; the fix of that item must turn it green (pytest then reports XPASS as a failure, and
the mark comes off). Where a test's subject is not the clone itself (issue 16 item 1), it
serves git without filter support, so that one path does not hide another.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.app.cli import main
from bot.app.compose import make_deploy_watcher, make_injector, make_watcher, open_store
from bot.app.control import run_daemon
from bot.catalog.faults import Catalog
from bot.config import load_config, sqlite_url_for
from bot.game.events import Kind, Landed
from bot.game.timeline import State, fold
from bot.store.eventlog import Store
from tests.conftest import CHAT_APP
from tests.gitrepos import TeamRepo, git, make_team_repo
from tests.repo.test_inject import pr_config, write_config
from tests.servers.argocd_api import DEFAULT_TOKEN, serve_argocd
from tests.servers.forge import BOT_TOKEN, Forge, open_forge
from tests.servers.git_cli import run_git
from tests.servers.git_http import git_auth_config, serve_git_http

CATALOG = Catalog.load()
FAULT = "web-unreachable/service-selector-typo"
APP = "team-a-chat"
T0 = datetime(2026, 12, 5, 14, 0, tzinfo=timezone.utc)
ALICE = ["-c", "user.name=Alice Ng", "-c", "user.email=alice@example.com"]


def _head(forge: Forge, rev: str = "main") -> str:
    return git(forge.bare, "rev-parse", rev)


def _wait_until(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


@pytest.fixture
def token(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("GITHUB_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("ARGOCD_AUTH_TOKEN", DEFAULT_TOKEN)
    return BOT_TOKEN


@pytest.fixture
def github_like(tmp_path: Path) -> Iterator[Forge]:
    """Git served as GitHub serves it: partial clones, token on every request."""
    with open_forge(tmp_path, CHAT_APP) as forge:
        yield forge


@pytest.fixture
def full_clone_forge(tmp_path: Path) -> Iterator[Forge]:
    """The same, without filter support: isolates the bug under test from issue 16 item 1."""
    with open_forge(tmp_path, CHAT_APP, partial_clone=False) as forge:
        yield forge


# -- issue 16 item 1 ----------------------------------------------------------------------

def test_inject_over_https_with_a_token_never_reaches_the_forge_without_it(
    tmp_path: Path, github_like: Forge, token: str
) -> None:
    config = write_config(tmp_path, f"    url: {github_like.git_http.url_for(github_like.full_name)}\n")
    before = _head(github_like)
    exit_code = main(["inject", "--config", str(config), "team-a", FAULT])
    refused = [(r.method, r.path) for r in github_like.git_http.requests if r.status == 401]
    assert refused == [], f"git requests sent without the token: {refused}"
    assert exit_code == 0 and git(github_like.bare, "rev-parse", "main^") == before


# -- issue 16 item 5 ----------------------------------------------------------------------

def test_halt_reverts_a_pr_team_fault_through_a_pull_request(
    tmp_path: Path, full_clone_forge: Forge, token: str, capsys: pytest.CaptureFixture[str]
) -> None:
    forge = full_clone_forge
    forge.github.protect(forge.owner, forge.name, "main")  # GitHub's default rule: changes only through a PR
    config = pr_config(tmp_path, forge)
    initial_tree = _head(forge, "main^{tree}")
    assert main(["inject", "--config", str(config), "team-a", FAULT]) == 0  # merged through its PR: allowed
    assert _head(forge, "main^{tree}") != initial_tree
    capsys.readouterr()

    exit_code = main(["halt", "--config", str(config)])
    output = capsys.readouterr()
    assert "protected branch hook declined" not in output.out + output.err
    assert exit_code == 0, output.err
    assert _head(forge, "main^{tree}") == initial_tree  # the fault is undone on main
    assert any(r.method == "PUT" and r.path.endswith("/merge") for r in forge.github.requests[-10:])


# -- issue 16 item 4 (and 6): squash and rebase merges ---------------------------------------

def _pr_game(tmp_path: Path, forge: Forge, method: str, argocd_url: str | None = None) -> tuple[Path, str]:
    """A delivery: pr team merging by `method` (tracked in ArgoCD if given); the fault injected.

    Returns the config and the sha GitHub landed on main."""
    url = forge.git_http.url_for(forge.full_name)
    tracked = f"    argocd_app: {APP}\n" if argocd_url else ""
    config = write_config(
        tmp_path, f"    repo: {forge.full_name}\n    url: {url}\n    delivery: pr\n{tracked}",
        extra=f"github: {{api_url: '{forge.github.api_url}', request_interval: 0s, merge_method: {method}}}\n"
              + (f"argocd: {{url: '{argocd_url}', ship_timeout: 1h}}\n" if argocd_url else ""),
    )
    settings, _ = load_config(config)
    store = open_store(settings, config)
    result = make_injector(settings, config, settings.team("team-a"), store).inject(CATALOG.get(FAULT))
    store.close()
    assert result.landed_sha == _head(forge) and result.landed_sha != result.sha  # GitHub made new commits
    return config, result.landed_sha


@pytest.mark.parametrize("method", ["squash", "rebase"])
def test_a_squash_or_rebase_merged_fault_ships_when_argocd_deploys_main(
    tmp_path: Path, full_clone_forge: Forge, token: str, method: str
) -> None:
    with serve_argocd() as argocd:
        argocd.add_app(APP, full_clone_forge.git_http.url_for(full_clone_forge.full_name))
        config, landed = _pr_game(tmp_path, full_clone_forge, method, argocd.url)
        argocd.sync(APP, landed, T0 + timedelta(minutes=1))
        settings, _ = load_config(config)
        store = open_store(settings, config)
        deploy = make_deploy_watcher(settings, config, settings.team("team-a"), store)
        try:
            deploy.refresh()
        finally:
            deploy.close()
        (instance,) = fold(store.events("team-a"))
        store.close()
    assert instance.shipped_at == T0 + timedelta(minutes=1)


@pytest.mark.parametrize("method", ["squash", "rebase"])
def test_reverting_the_commit_github_landed_is_scored_as_a_revert(
    tmp_path: Path, full_clone_forge: Forge, token: str, method: str
) -> None:
    config, landed = _pr_game(tmp_path, full_clone_forge, method)
    work = full_clone_forge.clone("alice")
    run_git(*ALICE, "revert", "--no-edit", landed, cwd=work)
    full_clone_forge.push(work, "HEAD:main")
    settings, _ = load_config(config)
    store = open_store(settings, config)
    make_watcher(settings, config, settings.team("team-a"), store, CATALOG).refresh()
    (instance,) = fold(store.events("team-a"))
    store.close()
    assert instance.state is State.fixed
    assert instance.fix_kind == "revert"


# -- issue 15 item 1 ------------------------------------------------------------------------

def _two_teams(tmp_path: Path, root: Path, url_of: Callable[[Path], str]) -> tuple[Path, dict[str, TeamRepo]]:
    remotes = {name: make_team_repo(root / name, name) for name in ("team-a", "team-b")}
    lines = [
        "event: {name: Game day, state: sqlite:///state.db, workdir: cache}",
        "poll_interval: 1s",
        "defaults:",
        "  personas: [{name: Kenji Sato, email: k.sato@example.com}]",
        "  scenario: {seed: 3, first_delay: 0s..1s, next_delay: 1h..2h, time_limit: 1h}",
        "teams:",
    ]
    for name, remote in remotes.items():
        lines += [f"  - name: {name}", f"    url: {url_of(remote.bare)}"]
    config = tmp_path / "repos.yaml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config, remotes


def test_a_hung_forge_for_one_team_does_not_stop_the_others(tmp_path: Path, token: str) -> None:
    root = tmp_path / "forge"
    with serve_git_http(root, BOT_TOKEN, partial_clone=False) as server:
        config, remotes = _two_teams(tmp_path, root, server.url_for_path)
        url = sqlite_url_for(tmp_path / "state.db")
        stop = threading.Event()
        daemon = threading.Thread(target=run_daemon, args=(config,), daemon=True,
                                  kwargs={"stop": stop, "web": False, "timeout": timedelta(minutes=2)})
        daemon.start()
        try:
            assert _wait_until(lambda: bool(_landed(url, "team-a") and _landed(url, "team-b")), 60), "no faults landed"  # a cold first round under load: waits for the event, never times it
            server.outage.hang(60, only="/team-a/")  # team-a's forge stops answering from now on
            assert _wait_until(lambda: bool(server.outage.served), 5), "team-a was not polled"
            time.sleep(2)  # let the round that met the hang finish with team-b
            fix = remotes["team-b"]
            git(fix.clone, "pull", "-q", "--ff-only", "origin", "main")
            git(fix.clone, *ALICE, "revert", "--no-edit", _landed(url, "team-b")[0])
            git(fix.clone, "push", "-q", "origin", "main")
            seen = _wait_until(lambda: _fixed(url, "team-b"), 15)  # team-a hangs for 60 s meanwhile
        finally:
            hung = len(server.requests)
            server.outage.clear()  # team-a's git finishes
            _wait_until(lambda: any("/team-a/" in r.path for r in server.requests[hung:]), 10)
            stop.set()  # no pause first: stopping under a hung forge must not deadlock (issue 15 item 4)
            daemon.join(timeout=30)
        assert not daemon.is_alive(), "the daemon did not stop"
        assert seen, "team-b's fix was not seen while team-a's forge hung"


def _landed(url: str, team: str) -> list[str]:
    store = Store(url)
    try:
        return [e.facts.sha for e in store.events(team, kinds=(Kind.LANDED,)) if isinstance(e.facts, Landed)]
    finally:
        store.close()


def _fixed(url: str, team: str) -> bool:
    store = Store(url)
    try:
        return any(i.state is State.fixed for i in fold(store.events(team)))
    finally:
        store.close()


def test_the_hang_knob_really_holds_git_here(tmp_path: Path) -> None:
    """Guards the test above: it must fail for the daemon's sake, not because the knob does nothing."""
    root = tmp_path / "forge"
    with serve_git_http(root, BOT_TOKEN, partial_clone=False) as server:
        _, remotes = _two_teams(tmp_path, root, server.url_for_path)
        server.outage.hang(60, only="/team-a/")
        urls = {name: server.url_for_path(remote.bare) for name, remote in remotes.items()}
        assert run_git(*git_auth_config(BOT_TOKEN), "ls-remote", urls["team-b"]).returncode == 0
        with pytest.raises(subprocess.TimeoutExpired):
            subprocess.run(["git", *git_auth_config(BOT_TOKEN), "ls-remote", urls["team-a"]],
                           capture_output=True, timeout=1.5, check=False)
        server.outage.clear()
