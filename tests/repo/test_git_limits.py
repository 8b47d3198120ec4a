"""Every git command is bounded (issue 15 item 1): a forge that hangs costs one command, not the daemon.

Against the smart-HTTP double made to hang: git's own low-speed limit abandons a stalled
transfer, and the wall-clock cap kills the whole process group (git and git-remote-http).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.base.redact import Redactor
from bot.errors import GitError
from bot.repo.gitprocess import GitLimits
from bot.repo.workspace import Credentials, remote_head, run_git
from tests.gitrepos import make_team_repo
from tests.servers.forge import BOT_TOKEN
from tests.servers.git_http import serve_git_http


def _processes_naming(text: str) -> list[str]:
    """Command lines of live processes that mention `text` (a git left talking to a URL)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline:
            found.append(cmdline)
    return found


def test_a_stalled_transfer_is_abandoned_by_git_itself(tmp_path: Path) -> None:
    make_team_repo(tmp_path / "forge", "team")
    with serve_git_http(tmp_path / "forge", BOT_TOKEN, partial_clone=False) as server:
        server.outage.hang(30, only="/team")
        with pytest.raises(GitError) as caught:
            remote_head(server.url_for("team"), "main", Credentials(BOT_TOKEN, Redactor()),
                        GitLimits(wall_seconds=60, stall_seconds=1))
        assert server.outage.served, "the hang was never dealt: the test proves nothing"
    error = caught.value
    assert error.status is not None and error.status != 0  # git gave up on its own, not our cap
    assert "too slow" in error.output.lower() and error.retryable
    assert BOT_TOKEN not in error.message + error.output


def test_past_the_wall_clock_cap_the_whole_process_group_is_killed(tmp_path: Path) -> None:
    make_team_repo(tmp_path / "forge", "team")
    with serve_git_http(tmp_path / "forge", BOT_TOKEN, partial_clone=False) as server:
        url = server.url_for("team")
        server.outage.hang(30, only="/team")
        with pytest.raises(GitError) as caught:
            remote_head(url, "main", Credentials(BOT_TOKEN, Redactor()), GitLimits(wall_seconds=1, stall_seconds=60))
        assert server.outage.served
        assert _processes_naming(url) == []  # git-remote-http went with git
    assert "gave no answer within 1s" in caught.value.message and caught.value.retryable


def test_the_limits_travel_in_the_environment_beside_the_token(tmp_path: Path) -> None:
    credentials = Credentials("ghs_a-token-for-the-test", Redactor())
    limits = GitLimits(wall_seconds=9, stall_seconds=7, stall_bytes=123)
    url = "https://git.example.invalid/team.git"

    def value(key: str) -> str:
        return run_git(["config", "--get", key], cwd=tmp_path, credentials=credentials, url=url, limits=limits).strip()

    assert value("http.lowSpeedTime") == "7" and value("http.lowSpeedLimit") == "123"
    assert value("http.extraHeader").startswith("Authorization: Basic ")
    assert value("credential.helper") == ""


def test_git_gets_the_scrubbed_environment_and_no_git_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    remote = make_team_repo(tmp_path)
    clone = tmp_path / "clone"
    run_git(["clone", "-q", str(remote.bare), str(clone)])
    elsewhere = make_team_repo(tmp_path / "elsewhere")
    # A developer's GIT_DIR / GIT_AUTHOR_NAME must not steer the bot's git at another repository or identity.
    monkeypatch.setenv("GIT_DIR", str(elsewhere.bare))
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Leaked Author")
    assert Path(run_git(["rev-parse", "--absolute-git-dir"], cwd=clone)) == (clone / ".git").resolve()
    assert "Leaked Author" not in run_git(["var", "GIT_AUTHOR_IDENT"], cwd=clone, env={"GIT_AUTHOR_EMAIL": "a@b.c"})
    empty = tmp_path / "no-git"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(GitError, match="^git is not installed or not on PATH$"):
        run_git(["status"], cwd=clone)


def test_how_to_reach_the_forge_stays_with_git_and_the_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A private CA (GitHub Enterprise) or a proxy set in the shell still reaches git; GIT_DIR does not."""
    remote = make_team_repo(tmp_path)
    clone = tmp_path / "clone"
    run_git(["clone", "-q", str(remote.bare), str(clone)])
    monkeypatch.setenv("GIT_SSL_CAINFO", str(tmp_path / "corporate-ca.pem"))
    monkeypatch.setenv("GIT_TERMINAL_PROMPT", "1")  # faultbot's git never prompts, whatever the shell says
    monkeypatch.setenv("GIT_DIR", str(tmp_path / "elsewhere.git"))
    shown = run_git(["-c", "alias.show-env=!printenv GIT_SSL_CAINFO GIT_TERMINAL_PROMPT; printenv GIT_DIR || true",
                     "show-env"], cwd=clone)
    assert shown.splitlines()[:2] == [str(tmp_path / "corporate-ca.pem"), "0"]
    assert str(tmp_path / "elsewhere.git") not in shown
    assert os.environ["GIT_SSL_CAINFO"] == str(tmp_path / "corporate-ca.pem") and "GIT_DIR" not in os.environ


def test_git_never_asks_anyone_for_a_password(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A refused token fails the command: no terminal prompt, and no askpass program either
    (SSH_ASKPASS or core.askPass from the desktop session would otherwise be run)."""
    asked = tmp_path / "asked"
    askpass = tmp_path / "askpass"
    askpass.write_text(f"#!/bin/sh\necho \"$1\" >> {asked}\necho guessed\n")
    askpass.chmod(0o755)
    monkeypatch.setenv("SSH_ASKPASS", str(askpass))
    monkeypatch.setenv("GIT_ASKPASS", str(askpass))
    make_team_repo(tmp_path / "forge", "team")
    with serve_git_http(tmp_path / "forge", BOT_TOKEN, partial_clone=False) as server:
        with pytest.raises(GitError):
            remote_head(server.url_for("team"), "main", Credentials("not-the-token", Redactor()))
        with pytest.raises(GitError):
            remote_head(server.url_for("team"), "main")  # no credentials at all
    assert not asked.exists(), asked.read_text()


def test_gitpythons_own_settings_stay(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.base.gitenv import forget_inherited

    monkeypatch.setenv("GIT_PYTHON_GIT_EXECUTABLE", "/usr/bin/git")
    monkeypatch.setenv("GIT_WORK_TREE", "/elsewhere")
    forget_inherited()
    assert os.environ.get("GIT_PYTHON_GIT_EXECUTABLE") == "/usr/bin/git" and "GIT_WORK_TREE" not in os.environ
