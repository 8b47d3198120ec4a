"""git's outcomes read the same in every locale, and push refusals are told apart (issue 16 items 2, 5).

git translates its messages (a German operator's git says "nichts zu committen", not
"nothing to commit"); faultbot runs it in the C locale and reads exit codes and
`--porcelain` output. A push GitHub refuses for good (`[remote rejected] ... (protected
branch hook declined)`) is not a push that lost a race (`[rejected] ... (fetch first)`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.catalog.faults import Catalog
from bot.errors import GitError
from bot.game.events import Kind, TimedOut
from bot.game.timeline import fold
from bot.repo.cache import PushRefused, PushRejected, TeamCache
from bot.repo.workspace import Credentials, run_git
from tests.conftest import CHAT_APP
from tests.gitrepos import git, make_team_repo
from tests.repo.test_inject import injector_for, write_config
from tests.servers.forge import BOT_TOKEN, Forge, open_forge

CATALOG = Catalog.load()
FAULT = "web-unreachable/service-selector-typo"
ALICE = ["-c", "user.name=Alice Ng", "-c", "user.email=alice@example.com"]


@pytest.fixture
def german(monkeypatch: pytest.MonkeyPatch) -> None:
    """An operator whose git speaks German (git ships the translations; C.UTF-8 lets LANGUAGE pick them)."""
    monkeypatch.setenv("LANG", "C.UTF-8")
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    monkeypatch.setenv("LANGUAGE", "de")


def test_the_locale_really_translates_git_here(tmp_path: Path, german: None) -> None:
    """Guards the tests below: they must fail for want of a fixed locale, not pass for want of a translation."""
    import subprocess

    said = subprocess.run(["git", "rev-parse", "--verify", "nope"], cwd=tmp_path, capture_output=True, text=True)
    assert said.returncode != 0 and "fatal:" not in said.stderr, said.stderr


def test_git_answers_faultbot_in_english_whatever_the_locale(tmp_path: Path, german: None) -> None:
    with pytest.raises(GitError) as caught:
        run_git(["rev-parse", "--verify", "nope"], cwd=tmp_path)
    assert "fatal: not a git repository" in caught.value.message


def test_a_fault_the_team_already_undid_is_closed_without_a_revert_in_any_locale(tmp_path: Path, german: None) -> None:
    remote = make_team_repo(tmp_path)
    injector, store = injector_for(write_config(tmp_path, f"    url: {remote.url}\n"))
    injector.inject(CATALOG.get(FAULT))
    git(remote.clone, "pull", "-q", "--ff-only", "origin", "main")
    service = remote.clone / "k8s" / "frontend-service.yaml"
    service.write_text(service.read_text().replace("app: frontend-web", "app: frontend"))
    git(remote.clone, *ALICE, "commit", "-qam", "Restore the selector")
    git(remote.clone, "push", "-q", "origin", "main")
    head = remote.head()
    (instance,) = fold(store.events("team-a"))
    assert injector.revert(CATALOG.get(FAULT), instance, "time-limit") is None  # nothing left to undo
    assert remote.head() == head
    assert store.events("team-a", kinds=(Kind.REVERT_FAILED,)) == []
    closed = store.latest("team-a", TimedOut, FAULT)
    assert closed is not None and closed.note == "the fault's change was already gone"


@pytest.fixture
def forge(tmp_path: Path) -> Iterator[Forge]:
    with open_forge(tmp_path, CHAT_APP) as opened:
        yield opened


def _cache(forge: Forge, tmp_path: Path) -> TeamCache:
    cache = TeamCache(tmp_path / "cache", forge.git_http.url_for(forge.full_name), Credentials(BOT_TOKEN))
    cache.sync("main")
    return cache


def _commit(cache: TeamCache, text: str) -> str:
    (cache.path / "NOTES.md").write_text(text)
    cache.git("add", "-A")
    cache.git("commit", "-q", "-m", "Notes", env={"GIT_AUTHOR_NAME": "A", "GIT_AUTHOR_EMAIL": "a@example.com",
                                                    "GIT_COMMITTER_NAME": "A", "GIT_COMMITTER_EMAIL": "a@example.com"})
    return cache.head()


def test_a_protected_branch_is_a_refusal_not_a_race(tmp_path: Path, forge: Forge, german: None) -> None:
    forge.github.protect(forge.owner, forge.name, "main")
    cache = _cache(forge, tmp_path)
    before = git(forge.bare, "rev-parse", "main")
    with pytest.raises(PushRefused) as caught:
        cache.push(_commit(cache, "one\n"), "main")
    assert not isinstance(caught.value, PushRejected) and not caught.value.retryable
    assert "protected branch hook declined" in caught.value.message
    assert "Changes must be made through a pull request." in caught.value.message
    assert BOT_TOKEN not in caught.value.message
    assert git(forge.bare, "rev-parse", "main") == before


def test_a_branch_that_moved_is_a_race_to_retry(tmp_path: Path, forge: Forge, german: None) -> None:
    cache = _cache(forge, tmp_path)
    teammate = forge.clone("teammate")
    (teammate / "README.md").write_text("moved on\n")
    git(teammate, *ALICE, "commit", "-qam", "Docs")
    forge.push(teammate, "HEAD:main")
    with pytest.raises(PushRejected) as caught:
        cache.push(_commit(cache, "two\n"), "main")
    # "fetch first", or "non-fast-forward" once git fetched the new head to look (a partial clone does)
    assert caught.value.message in ("push rejected: fetch first", "push rejected: non-fast-forward")
    assert not isinstance(caught.value, PushRefused)  # a race to retry, not a refusal
