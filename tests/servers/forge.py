"""A complete local forge for tests: smart-HTTP git plus the GitHub API over the same repos."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.servers.git_cli import run_git
from tests.servers.git_http import GitHTTPServer, git_auth_config, serve_git_http
from tests.servers.github_api import GitHubServer, serve_github

BOT_TOKEN = "ghs_faultbot-token"
MEMBER_TOKEN = "ghp_alice-token"
MEMBER_LOGIN = "alice"

# Smart-HTTP servers to run a faultbot test against when its subject is not the clone itself:
# GitHub's (partial clones, the token asked for on every request, lazy blob fetches included)
# and a git server without filter support (git falls back to a full clone). Use as
# `@pytest.mark.parametrize("<forge fixture>", GIT_SERVERS, indirect=True)`.
GIT_SERVERS = [
    pytest.param(True, id="github-partial-clone"),
    pytest.param(False, id="no-filter-server"),
]


@dataclass(frozen=True)
class Forge:
    """Both servers, the bare repo of `owner/name`, and a scratch directory for clones."""

    github: GitHubServer
    git_http: GitHTTPServer
    owner: str
    name: str
    bare: Path
    scratch: Path

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    def clone(self, directory: str) -> Path:
        """Clone the repo over smart HTTP with the bot token into `scratch/directory`."""
        target = self.scratch / directory
        run_git(*git_auth_config(BOT_TOKEN), "clone", "--quiet", self.git_http.url_for(self.full_name), str(target))
        return target

    def push(self, work_tree: Path, refspec: str, force: bool = False) -> None:
        """Push from a clone over smart HTTP."""
        run_git(*git_auth_config(BOT_TOKEN), "push", "--quiet", *(["--force"] if force else []), "origin", refspec, cwd=work_tree)


@contextmanager
def open_forge(
    tmp_path: Path, seed: Path, owner: str = "team-a", name: str = "chat", partial_clone: bool = True
) -> Iterator[Forge]:
    """Serve one repo seeded from `seed`; tokens: BOT_TOKEN → "faultbot", MEMBER_TOKEN → "alice".

    `partial_clone=False` serves like a git server without filter support (see GitHTTPServer).
    """
    root = tmp_path / "forge"
    root.mkdir()
    with ExitStack() as stack:
        git_http = stack.enter_context(serve_git_http(root, BOT_TOKEN, partial_clone=partial_clone))
        github = stack.enter_context(serve_github(root, {BOT_TOKEN: "faultbot", MEMBER_TOKEN: MEMBER_LOGIN}, git_http))
        bare = github.create_repo(owner, name, from_dir=seed)
        scratch = tmp_path / "clones"
        scratch.mkdir()
        yield Forge(github, git_http, owner, name, bare, scratch)
