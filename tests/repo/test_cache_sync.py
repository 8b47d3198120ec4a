"""A team's cache on first use: the clone already holds the branch, so no fetch follows it
(one round trip to the team's server, not two); a missing branch still fails in git's words."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import GitError
from bot.repo.cache import TeamCache
from bot.repo.workspace import Credentials
from tests.conftest import CHAT_APP
from tests.servers.forge import BOT_TOKEN, open_forge
from tests.servers.git_cli import run_git


def test_a_fresh_cache_is_one_clone_and_a_warm_one_one_fetch(tmp_path: Path) -> None:
    with open_forge(tmp_path, CHAT_APP, partial_clone=False) as forge:
        cache = TeamCache(tmp_path / "cache" / "team-a", forge.git_http.url_for(forge.full_name), Credentials(BOT_TOKEN))
        head = run_git("rev-parse", "main", cwd=forge.bare).stdout.decode().strip()
        before = len(forge.git_http.requests)
        assert cache.sync("main") == head and cache.head() == head
        sessions = [r for r in forge.git_http.requests[before:] if r.path.endswith("/info/refs")]
        assert len(sessions) == 1  # the clone; no fetch straight after it
        assert (cache.path / "k8s").is_dir()  # the work tree is checked out
        before = len(forge.git_http.requests)
        assert cache.sync("main") == head
        assert len([r for r in forge.git_http.requests[before:] if r.path.endswith("/info/refs")]) == 1  # a fetch
        with pytest.raises(GitError, match="no-such-branch"):
            TeamCache(tmp_path / "cache" / "team-b", cache.url, Credentials(BOT_TOKEN)).sync("no-such-branch")
