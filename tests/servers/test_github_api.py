"""The local GitHub API, driven through PyGithub and real git pushes."""

from __future__ import annotations

import base64
import threading
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest
from github import Auth, BadCredentialsException, Github, GithubException, UnknownObjectException
from github.Repository import Repository

from tests.servers.branch_protection import BranchProtection
from tests.servers.forge import BOT_TOKEN, MEMBER_LOGIN, MEMBER_TOKEN, Forge
from tests.servers.git_cli import commit_file, git_text, run_git
from tests.servers.git_http import GitHTTPServer, serve_git_http
from tests.servers.github_api import GitHubServer, serve_github


def _client(forge: Forge, token: str = BOT_TOKEN, per_page: int = 30) -> Github:
    """PyGithub without its default 0.25 s / 1 s request throttling, which would dominate runtime."""
    return Github(
        base_url=forge.github.api_url, auth=Auth.Token(token), per_page=per_page, retry=None,
        seconds_between_requests=None, seconds_between_writes=None,
    )


def _repo(forge: Forge, token: str = BOT_TOKEN, per_page: int = 30) -> Repository:
    return _client(forge, token, per_page).get_repo(forge.full_name)


def _push_branch(forge: Forge, branch: str, path: str, text: str, clone: str | None = None) -> str:
    work = forge.clone(clone or f"work-{branch.replace('/', '-')}")
    run_git("checkout", "--quiet", "-b", branch, cwd=work)
    sha = commit_file(work, path, text, f"change {path}")
    forge.push(work, f"HEAD:refs/heads/{branch}")
    return sha


def test_repository_branch_ref_and_contents(forge: Forge) -> None:
    repo = _repo(forge)
    main_sha = git_text("rev-parse", "main", cwd=forge.bare)

    assert (repo.full_name, repo.default_branch, repo.private) == ("team-a/chat", "main", True)
    assert repo.clone_url == forge.git_http.url_for("team-a/chat")
    assert repo.owner.login == "team-a"
    branch = repo.get_branch("main")
    assert branch.commit.sha == main_sha and branch.protected is False
    assert repo.get_git_ref("heads/main").object.sha == main_sha

    manifest = repo.get_contents("k8s/deployment.yaml", ref="main")
    assert not isinstance(manifest, list)
    assert manifest.decoded_content == b"replicas: 2\nimage: chat:1.0\n"
    listing = repo.get_contents("")
    assert isinstance(listing, list)
    assert sorted((item.path, item.type) for item in listing) == [("README.md", "file"), ("k8s", "dir")]

    with pytest.raises(UnknownObjectException):
        repo.get_branch("nope")
    with pytest.raises(UnknownObjectException):
        repo.get_contents("missing.txt")
    with pytest.raises(UnknownObjectException):
        _client(forge).get_repo("team-a/nope")


def test_commits_pagination_filters_and_files(forge: Forge) -> None:
    work = forge.clone("work")
    commit_file(work, "k8s/deployment.yaml", "replicas: 3\nimage: chat:1.0\n", "scale up")
    commit_file(work, "docs/a.md", "a\n", "docs")
    last = commit_file(work, "k8s/deployment.yaml", "replicas: 3\nimage: chat:1.1\n", "bump image")
    forge.push(work, "HEAD:main")

    repo = _repo(forge, per_page=2)
    commits = repo.get_commits(sha="main")
    assert commits.totalCount == 4
    assert [c.commit.message for c in commits] == ["bump image", "docs", "scale up", "Initial commit"]
    assert [c.commit.message for c in repo.get_commits(path="k8s/deployment.yaml")] == [
        "bump image", "scale up", "Initial commit",
    ]
    assert any("page=2" in r.query for r in forge.github.requests)
    assert repo.get_commits(since=datetime(2090, 1, 1, tzinfo=timezone.utc)).totalCount == 0

    commit = repo.get_commit(last)
    assert [p.sha for p in commit.parents] == [git_text("rev-parse", f"{last}~1", cwd=work)]
    (changed,) = commit.files
    assert (changed.filename, changed.status, changed.additions, changed.deletions, changed.changes) == (
        "k8s/deployment.yaml", "modified", 1, 1, 2,
    )
    assert "-image: chat:1.0\n+image: chat:1.1" in changed.patch
    assert changed.patch.startswith("@@")


def test_compare_reports_ahead_behind_and_diverged(forge: Forge) -> None:
    feature = _push_branch(forge, "feature", "app.py", "print(1)\n")
    repo = _repo(forge)
    ahead = repo.compare("main", "feature")
    assert (ahead.status, ahead.ahead_by, ahead.behind_by) == ("ahead", 1, 0)
    assert [c.sha for c in ahead.commits] == [feature]
    assert [f.filename for f in ahead.files] == ["app.py"]
    assert repo.compare("feature", "main").status == "behind"
    assert repo.compare("main", "main").status == "identical"

    main_work = forge.clone("main-work")
    commit_file(main_work, "other.txt", "x\n", "main moves on")
    forge.push(main_work, "HEAD:main")
    diverged = repo.compare("main", "feature")
    assert (diverged.status, diverged.ahead_by, diverged.behind_by) == ("diverged", 1, 1)
    assert diverged.merge_base_commit.sha == git_text("rev-parse", "main~1", cwd=forge.bare)


def test_pull_request_lifecycle_with_merge_commit(forge: Forge) -> None:
    forge.github.add_user(MEMBER_LOGIN, "Alice Member", "alice@team-a.test")
    head = _push_branch(forge, "fix/replicas", "k8s/deployment.yaml", "replicas: 1\nimage: chat:1.0\n")
    base_before = git_text("rev-parse", "main", cwd=forge.bare)
    member_repo = _repo(forge, token=MEMBER_TOKEN)

    created = member_repo.create_pull(base="main", head="fix/replicas", title="Fix replicas", body="why")
    assert (created.number, created.user.login, created.state, created.merged) == (1, "alice", "open", False)
    assert created.head.sha == head and created.base.sha == base_before
    assert created.mergeable is True and created.commits == 1 and created.changed_files == 1

    bot_repo = _repo(forge)
    assert [p.number for p in bot_repo.get_pulls(state="open", head="team-a:fix/replicas", base="main")] == [1]
    assert [p.number for p in bot_repo.get_pulls(state="closed")] == []
    assert [c.sha for c in bot_repo.get_pull(1).get_commits()] == [head]
    assert [p.number for p in bot_repo.get_commit(head).get_pulls()] == [1]

    status = member_repo.get_pull(1).merge(merge_method="merge")
    assert status.merged is True
    merge_sha = git_text("rev-parse", "main", cwd=forge.bare)
    assert status.sha == merge_sha
    assert git_text("rev-parse", f"{merge_sha}^1", cwd=forge.bare) == base_before
    assert git_text("rev-parse", f"{merge_sha}^2", cwd=forge.bare) == head
    assert git_text("log", "-1", "--format=%an <%ae>|%cn|%s", merge_sha, cwd=forge.bare) == (
        "Alice Member <alice@team-a.test>|GitHub|Merge pull request #1 from team-a/fix/replicas"
    )

    merged = bot_repo.get_pull(1)
    assert (merged.state, merged.merged, merged.merge_commit_sha, merged.merged_by.login) == (
        "closed", True, merge_sha, "alice",
    )
    assert merged.merged_at is not None and merged.merged_at.tzinfo is not None
    assert [p.number for p in bot_repo.get_pulls(state="closed")] == [1]
    # Once on the default branch, a commit maps to the merged PR that brought it in.
    assert [p.number for p in bot_repo.get_commit(head).get_pulls()] == [1]
    with pytest.raises(GithubException) as again:
        merged.merge()
    assert again.value.status == 405


def test_squash_merge_makes_one_commit_with_the_pr_tree(forge: Forge) -> None:
    work = forge.clone("work")
    run_git("checkout", "--quiet", "-b", "feature", cwd=work)
    commit_file(work, "a.txt", "a\n", "first")
    head = commit_file(work, "b.txt", "b\n", "second")
    forge.push(work, "HEAD:refs/heads/feature")
    base_before = git_text("rev-parse", "main", cwd=forge.bare)

    repo = _repo(forge)
    pr = repo.create_pull(base="main", head="feature", title="Add files", body="")
    result = pr.merge(merge_method="squash", sha=head)
    squash = git_text("rev-parse", "main", cwd=forge.bare)
    assert result.sha == squash
    assert git_text("rev-list", "--parents", "-n1", squash, cwd=forge.bare).split() == [squash, base_before]
    assert git_text("rev-parse", f"{squash}^{{tree}}", cwd=forge.bare) == git_text(
        "rev-parse", f"{head}^{{tree}}", cwd=forge.bare
    )
    assert git_text("log", "-1", "--format=%s", squash, cwd=forge.bare) == "Add files (#1)"


def test_merge_refusals(forge: Forge) -> None:
    """Required checks, conflicting heads, a stale `sha` and a disabled method all fail like on GitHub."""
    repo = _repo(forge)
    one = _push_branch(forge, "one", "k8s/deployment.yaml", "replicas: 5\n")
    _push_branch(forge, "two", "k8s/deployment.yaml", "replicas: 9\n")
    first = repo.create_pull(base="main", head="one", title="one", body="")
    second = repo.create_pull(base="main", head="two", title="two", body="")
    main_before = git_text("rev-parse", "main", cwd=forge.bare)

    forge.github.protect("team-a", "chat", "main", BranchProtection(required_status_checks=("ci",)))
    assert repo.get_branch("main").protected is True
    assert repo.get_pull(first.number).mergeable_state == "blocked"
    with pytest.raises(GithubException) as protected:
        first.merge()
    assert (protected.value.status, protected.value.data["message"]) == (405, 'Required status check "ci" is expected.')
    assert protected.value.data["documentation_url"] == "https://help.github.com/articles/about-protected-branches"
    forge.github.add_commit_status("team-a", "chat", one, "pending", context="ci")
    with pytest.raises(GithubException):
        first.merge()
    forge.github.unprotect("team-a", "chat", "main")

    with pytest.raises(GithubException) as stale:
        first.merge(sha="0" * 40)
    assert stale.value.status == 409
    forge.github.set_merge_methods("team-a", "chat", rebase=False)
    assert _repo(forge).allow_rebase_merge is False
    with pytest.raises(GithubException) as rebase:
        first.merge(merge_method="rebase")
    assert (rebase.value.status, rebase.value.data["message"]) == (405, "Rebase merges are not allowed on this repository.")
    assert git_text("rev-parse", "main", cwd=forge.bare) == main_before

    first.merge()
    assert repo.get_pull(second.number).mergeable is False
    with pytest.raises(GithubException) as conflict:
        second.merge()
    assert (conflict.value.status, conflict.value.data["message"]) == (405, "Pull Request is not mergeable")

    with pytest.raises(GithubException) as duplicate:
        repo.create_pull(base="main", head="two", title="again", body="")
    assert duplicate.value.status == 422


def test_workflow_runs_check_runs_and_statuses(forge: Forge) -> None:
    repo = _repo(forge)
    sha = git_text("rev-parse", "main", cwd=forge.bare)
    assert repo.get_workflow_runs().totalCount == 0
    assert repo.get_commit(sha).get_combined_status().total_count == 0

    run = forge.github.add_workflow_run("team-a", "chat", sha, "in_progress", None, head_branch="main")
    forge.github.add_workflow_run("team-a", "chat", "f" * 40, "completed", "failure", head_branch="main")
    forge.github.add_workflow_run("team-a", "chat", "e" * 40, "completed", "success", head_branch="other")
    (listed,) = repo.get_workflow_runs(head_sha=sha)
    assert (listed.id, listed.status, listed.head_branch) == (run.id, "in_progress", "main")
    assert listed.conclusion is None
    assert repo.get_workflow_runs(branch=repo.get_branch("main")).totalCount == 2

    forge.github.update_workflow_run(run, "completed", "failure")
    (check,) = repo.get_commit(sha).get_check_runs()
    assert (check.name, check.status, check.conclusion) == ("CI", "completed", "failure")

    forge.github.add_commit_status("team-a", "chat", sha, "success", context="deploy")
    combined = repo.get_commit(sha).get_combined_status()
    assert (combined.state, [s.context for s in combined.statuses]) == ("success", ["deploy"])


def test_rate_limit_and_headers(forge: Forge) -> None:
    client = _client(forge)
    client.get_repo(forge.full_name)
    core = client.get_rate_limit().resources.core
    assert (core.limit, core.used, core.remaining) == (5000, 1, 4999)

    response = httpx.get(f"{forge.github.api_url}/repos/{forge.full_name}", headers={"Authorization": f"Bearer {BOT_TOKEN}"})
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    for header in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "X-RateLimit-Used", "X-GitHub-Request-Id"):
        assert header in response.headers
    assert response.headers["X-RateLimit-Resource"] == "core"


def test_bad_or_missing_token_gets_401(forge: Forge) -> None:
    with pytest.raises(BadCredentialsException):
        _client(forge, token="wrong").get_repo(forge.full_name)
    missing = httpx.get(f"{forge.github.api_url}/repos/{forge.full_name}")
    assert missing.status_code == 401
    assert missing.json()["message"] == "Bad credentials"
    assert "documentation_url" in missing.json()
    assert [r.status for r in forge.github.requests] == [401, 401]


def test_conditional_requests_answer_304_until_a_push(forge: Forge) -> None:
    url = f"{forge.github.api_url}/repos/{forge.full_name}/branches/main"
    auth = {"Authorization": f"token {BOT_TOKEN}"}
    first = httpx.get(url, headers=auth)
    etag = first.headers["ETag"]
    assert first.status_code == 200 and "Last-Modified" in first.headers

    again = httpx.get(url, headers={**auth, "If-None-Match": etag})
    assert (again.status_code, again.content) == (304, b"")
    assert again.headers["X-RateLimit-Used"] == first.headers["X-RateLimit-Used"]

    work = forge.clone("work")
    commit_file(work, "README.md", "# chat v2\n", "docs")
    forge.push(work, "HEAD:main")
    changed = httpx.get(url, headers={**auth, "If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag


def test_commit_authors_map_to_known_users(forge: Forge) -> None:
    forge.github.add_user(MEMBER_LOGIN, "Alice Member", "alice@team-a.test")
    work = forge.clone("work")
    sha = commit_file(work, "x.txt", "x\n", "by alice", author=("Alice Member", "alice@team-a.test"))
    forge.push(work, "HEAD:main")
    commit = _repo(forge).get_commit(sha)
    assert commit.author.login == "alice"
    assert commit.commit.author.email == "alice@team-a.test"


def test_raw_content_is_base64(forge: Forge) -> None:
    response = httpx.get(
        f"{forge.github.api_url}/repos/{forge.full_name}/contents/README.md",
        params={"ref": "main"},
        headers={"Authorization": f"token {BOT_TOKEN}"},
    )
    body = response.json()
    assert (body["type"], body["encoding"]) == ("file", "base64")
    assert base64.b64decode(body["content"]) == b"# chat\n"


def test_servers_stop_cleanly(tmp_path: Path) -> None:
    """No server thread outlives its `with` block, so pytest never hangs on exit."""
    with serve_git_http(tmp_path, BOT_TOKEN) as git_http, serve_github(tmp_path, BOT_TOKEN, git_http) as github:
        assert httpx.get(f"{github.api_url}/rate_limit", headers={"Authorization": f"token {BOT_TOKEN}"}).status_code == 200
        assert httpx.get(git_http.url_for("missing")).status_code == 401
    github.stop()
    git_http.stop()
    assert not [t.name for t in threading.enumerate() if t.name in ("github-api", "git-http")]
    elsewhere = GitHTTPServer(tmp_path / "elsewhere", BOT_TOKEN)
    try:
        with pytest.raises(ValueError, match="does not contain"):
            GitHubServer(tmp_path, BOT_TOKEN, git_http=elsewhere)
    finally:
        elsewhere.stop()


def test_unknown_endpoints_answer_json_404_and_are_logged(forge: Forge) -> None:
    response = httpx.get(f"{forge.github.api_url}/repos/{forge.full_name}/hooks", headers={"Authorization": f"token {BOT_TOKEN}"})
    assert (response.status_code, response.json()["message"]) == (404, "Not Found")
    assert forge.github.requests[-1].path.endswith("/hooks")
