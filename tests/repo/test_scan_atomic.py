"""A fix is never lost to a scan that failed half-way (issue 16 item 3).

"Processed up to this head" is written in the same transaction as what the scan found, so a
fetch that fails after the branch was seen to move (or a kill in between) leaves the head
unprocessed: the next look — by the same watcher, or by a new process after a restart —
searches again and finds the fix. The failure is real git's: the remote's pack-objects is
replaced by `false` through git's own `uploadpack.packObjectsHook`, so `ls-remote` still
answers but every fetch that needs objects fails.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.app.compose import make_watcher, open_store
from bot.catalog.faults import Catalog
from bot.config import load_config
from bot.errors import GitError
from bot.game.events import Head, Kind
from bot.game.timeline import State, fold
from bot.repo.watcher import TeamWatcher
from tests.gitrepos import git
from tests.repo.test_detect import Game, start_game

CATALOG = Catalog.load()
SELECTOR = "web-unreachable/service-selector-typo"
ALICE = ["-c", "user.name=Alice Ng", "-c", "user.email=alice@example.com"]


def fetches_fail(failing: bool) -> None:
    """Break (or mend) every fetch from local remotes, through the test's isolated global git config."""
    config = Path(os.environ["GIT_CONFIG_GLOBAL"])
    args = ["config", "--file", str(config)]
    if failing:
        git(config.parent, *args, "uploadpack.packObjectsHook", "false")
    else:
        git(config.parent, *args, "--unset", "uploadpack.packObjectsHook")


def team_reverts(game: Game) -> None:
    git(game.remote.clone, *ALICE, "revert", "--no-edit", game.injected)
    git(game.remote.clone, "push", "-q", "origin", "main")


def new_watcher(game: Game) -> TeamWatcher:
    """The watcher a restarted daemon builds, on a store opened anew."""
    config, _ = load_config(game.config)
    game.store.close()
    game.store = open_store(config, game.config)
    return make_watcher(config, game.config, config.team("team-a"), game.store, CATALOG)


@pytest.mark.parametrize("after", ["the-same-watcher", "a-restart"])
def test_a_fix_seen_by_ls_remote_but_not_fetched_is_found_on_the_next_look(tmp_path: Path, after: str) -> None:
    game = start_game(tmp_path, SELECTOR)
    game.watcher.refresh()
    team_reverts(game)
    fetches_fail(True)
    with pytest.raises(GitError, match="fetch"):
        game.watcher.refresh()  # ls-remote saw the new head; fetching it failed
    heads = [e.facts.head for e in game.store.events("team-a", kinds=(Kind.HEAD,)) if isinstance(e.facts, Head)]
    assert game.remote.head() not in heads, "the head was marked processed though nothing was searched"
    fetches_fail(False)
    watcher = new_watcher(game) if after == "a-restart" else game.watcher
    watcher.refresh()
    (instance,) = fold(game.store.events("team-a"))
    assert instance.state is State.fixed and instance.fix_sha == game.remote.head() and instance.fix_kind == "revert"


def test_the_head_is_recorded_with_what_its_scan_found(tmp_path: Path) -> None:
    game = start_game(tmp_path, SELECTOR)
    game.watcher.refresh()
    team_reverts(game)
    game.watcher.refresh()
    fixed = game.store.last("team-a", kinds=(Kind.FIXED,))
    head = game.store.last("team-a", kinds=(Kind.HEAD,))
    assert fixed is not None and head is not None and isinstance(head.facts, Head)
    assert head.facts.head == game.remote.head() and head.id > fixed.id and head.at == fixed.at  # one write, head last


def test_a_new_process_searches_even_a_head_an_older_release_marked_seen(tmp_path: Path) -> None:
    """A state file from before this fix may say "processed up to X" for a head never searched."""
    game = start_game(tmp_path, SELECTOR)
    team_reverts(game)
    last = game.store.last("team-a", kinds=(Kind.HEAD,))
    assert last is not None
    game.store.append("team-a", Head(head=game.remote.head(), previous=game.injected), source="poll", at=last.at)
    new_watcher(game).refresh()  # the daemon starts again
    (instance,) = fold(game.store.events("team-a"))
    assert instance.state is State.fixed and instance.fix_sha == game.remote.head()
