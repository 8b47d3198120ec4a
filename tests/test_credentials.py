"""Tokens reach git per command, are asked for afresh each time (GitHub App tokens expire),
and never show up in an error."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.base.redact import Redactor
from bot.errors import GitError
from bot.repo.workspace import Credentials, remote_head
from tests.gitrepos import make_team_repo
from tests.servers.git_http import serve_git_http

FIRST, SECOND = "ghs_installation-token-one-1234", "ghs_installation-token-two-5678"


def test_a_refreshed_token_is_used_by_the_next_git_command(tmp_path: Path) -> None:
    remote = make_team_repo(tmp_path / "forge", "team")
    current = {"token": FIRST}
    credentials = Credentials(redactor=Redactor(), refresh=lambda: current["token"])
    with serve_git_http(tmp_path / "forge", FIRST) as server:
        url = server.url_for("team")
        assert remote_head(url, "main", credentials) == remote.head()
        current["token"] = SECOND  # the installation token was renewed; the server does not know it yet
        with pytest.raises(GitError) as caught:
            remote_head(url, "main", credentials)
        assert SECOND not in caught.value.message and SECOND not in caught.value.output
        server.add_token(SECOND, "faultbot-app[bot]")
        assert remote_head(url, "main", credentials) == remote.head()
    assert all(r.authenticated for r in server.requests if r.status == 200)
    assert credentials.redactor(f"token {FIRST} and {SECOND}") == "token *** and ***"


def test_the_token_travels_in_the_environment_not_in_the_arguments(tmp_path: Path) -> None:
    import base64

    from bot.repo.workspace import run_git

    credentials = Credentials(FIRST, Redactor())
    header = run_git(["config", "--get", "http.extraHeader"], cwd=tmp_path, credentials=credentials,
                     url="https://git.example.invalid/team.git")
    assert header.strip() == "Authorization: Basic " + base64.b64encode(f"x-access-token:{FIRST}".encode()).decode()
    assert credentials.git_env("file:///srv/x.git") == {}  # never offered to a non-HTTP remote
    with pytest.raises(GitError) as caught:  # and an error shows the command, never the header
        run_git(["config", "--get", "no.such.key"], cwd=tmp_path, credentials=credentials, url="https://x.invalid/t.git")
    assert FIRST not in str(caught.value) and "Basic" not in str(caught.value)
