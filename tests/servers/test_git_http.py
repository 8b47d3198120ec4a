"""The smart-HTTP git server accepts the right token only, for every git transport verb."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers.git_cli import git_text, init_bare_repo, run_git
from tests.servers.git_http import GitHTTPServer, basic_auth_header, git_auth_config, serve_git_http

TOKEN = "ghs_right-token"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[GitHTTPServer, Path]]:
    """A server over `tmp_path/srv` holding one bare repo `team/app.git` with one commit."""
    root = tmp_path / "srv"
    bare = init_bare_repo(root / "team" / "app.git")
    seed = tmp_path / "seed"
    run_git("init", "--quiet", "-b", "main", str(seed))
    (seed / "README.md").write_text("hello\n")
    run_git("add", ".", cwd=seed)
    run_git("commit", "--quiet", "-m", "initial", cwd=seed)
    run_git("push", "--quiet", str(bare), "main", cwd=seed)
    with serve_git_http(root, TOKEN) as server:
        yield server, bare


def _git(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run git without raising, so tests can assert on failures too."""
    return subprocess.run(
        ["git", "-c", "credential.helper=", *args],
        cwd=cwd,
        capture_output=True,
        check=False,
        timeout=30,
        env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},
    )


def test_clone_push_fetch_with_token_header(served: tuple[GitHTTPServer, Path], tmp_path: Path) -> None:
    server, bare = served
    url = server.url_for("team/app")
    auth = git_auth_config(TOKEN)

    run_git(*auth, "clone", "--quiet", url, str(tmp_path / "work"))
    work = tmp_path / "work"
    assert (work / "README.md").read_text() == "hello\n"

    (work / "app.py").write_text("print('hi')\n")
    run_git("add", "app.py", cwd=work)
    run_git("commit", "--quiet", "-m", "add app", cwd=work)
    pushed = git_text("rev-parse", "HEAD", cwd=work)
    run_git(*auth, "push", "--quiet", "origin", "HEAD:refs/heads/feature", cwd=work)
    assert git_text("rev-parse", "refs/heads/feature", cwd=bare) == pushed

    other = tmp_path / "other"
    run_git(*auth, "clone", "--quiet", url, str(other))
    run_git(*auth, "fetch", "--quiet", "origin", cwd=other)
    assert git_text("rev-parse", "origin/feature", cwd=other) == pushed

    ls = git_text(*auth, "ls-remote", url)
    assert f"{pushed}\trefs/heads/feature" in ls
    assert all(r.authenticated for r in server.requests)
    assert any(r.method == "POST" and r.path.endswith("/git-receive-pack") for r in server.requests)


def test_bearer_header_and_token_in_url_are_accepted(served: tuple[GitHTTPServer, Path]) -> None:
    server, _ = served
    bearer = _git("-c", f"http.extraHeader=Authorization: Bearer {TOKEN}", "ls-remote", server.url_for("team/app"))
    assert bearer.returncode == 0, bearer.stderr
    in_url = server.url_for("team/app").replace("http://", f"http://x-access-token:{TOKEN}@")
    assert _git("ls-remote", in_url).returncode == 0


@pytest.mark.parametrize("header", [None, basic_auth_header("wrong"), "Bearer wrong"])
def test_wrong_or_missing_token_is_refused(served: tuple[GitHTTPServer, Path], tmp_path: Path, header: str | None) -> None:
    server, _ = served
    extra = ["-c", f"http.extraHeader=Authorization: {header}"] if header else []
    clone = _git(*extra, "clone", server.url_for("team/app"), str(tmp_path / "denied"))
    assert clone.returncode != 0
    assert server.requests and server.requests[-1].status == 401
    assert not any(r.authenticated for r in server.requests)


def test_push_with_wrong_token_changes_nothing(served: tuple[GitHTTPServer, Path], tmp_path: Path) -> None:
    server, bare = served
    work = tmp_path / "work"
    run_git(*git_auth_config(TOKEN), "clone", "--quiet", server.url_for("team/app"), str(work))
    run_git("commit", "--quiet", "--allow-empty", "-m", "sneaky", cwd=work)
    before = git_text("rev-parse", "main", cwd=bare)
    push = _git(*git_auth_config("wrong")[2:], "push", "origin", "HEAD:main", cwd=work)
    assert push.returncode != 0
    assert git_text("rev-parse", "main", cwd=bare) == before


def test_chunked_push_and_gzip_fetch(served: tuple[GitHTTPServer, Path], tmp_path: Path) -> None:
    """Large pushes arrive chunked and long fetch negotiations gzip-encoded; both must work."""
    server, bare = served
    auth = git_auth_config(TOKEN)
    work = tmp_path / "work"
    run_git(*auth, "clone", "--quiet", server.url_for("team/app"), str(work))
    (work / "blob.bin").write_bytes(os.urandom(300_000))  # incompressible, above http.postBuffer
    run_git("add", "blob.bin", cwd=work)
    run_git("commit", "--quiet", "-m", "big", cwd=work)
    run_git(*auth, "-c", "http.postBuffer=65536", "push", "--quiet", "origin", "HEAD:main", cwd=work)
    assert git_text("rev-parse", "main", cwd=bare) == git_text("rev-parse", "HEAD", cwd=work)
    assert any(r.chunked and r.path.endswith("/git-receive-pack") for r in server.requests)

    # A clone with many local-only commits sends a long "have" list, which git gzips.
    # 80 local commits in one fast-import. Strictly increasing dates, newer than the shared
    # history, keep git from meeting the common commit in its first (short, uncompressed)
    # batch of "have" lines.
    stream = [f"reset refs/heads/main\nfrom {git_text('rev-parse', 'HEAD', cwd=work)}\n"]
    for number in range(80):
        message = f"local {number}\n"
        stream.append(
            f"commit refs/heads/main\ncommitter Local <local@example.test> {2_000_000_000 + number} +0000\n"
            f"data {len(message)}\n{message}\n"
        )
    run_git("fast-import", "--quiet", cwd=work, input="".join(stream).encode())
    upstream = tmp_path / "upstream"
    run_git(*auth, "clone", "--quiet", server.url_for("team/app"), str(upstream))
    run_git("commit", "--quiet", "--allow-empty", "-m", "remote change", cwd=upstream)
    run_git(*auth, "push", "--quiet", "origin", "HEAD:main", cwd=upstream)
    run_git(*auth, "fetch", "--quiet", "origin", cwd=work)
    assert git_text("rev-parse", "origin/main", cwd=work) == git_text("rev-parse", "HEAD", cwd=upstream)
    assert any(r.content_encoding == "gzip" for r in server.requests), server.requests


def test_stop_is_idempotent(tmp_path: Path) -> None:
    server = GitHTTPServer(tmp_path, TOKEN)
    server.start()
    server.stop()
    server.stop()
