"""Every JSON body the local GitHub serves matches GitHub's published OpenAPI description.

The session below touches all 16 operations of shared/contracts/github-rest-subset.json,
success and error answers alike. Operations the server offers beyond that subset
(`GET /users/{username}`, `GET /commits/{sha}/pulls`, `PATCH /pulls/{n}`, the legacy
`/git/refs/{ref}`) have no schema in the file and are not validated here.
"""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from github import Auth, Github, GithubException
from github.Repository import Repository

from tests.servers.branch_protection import BranchProtection
from tests.servers.forge import BOT_TOKEN, MEMBER_TOKEN, Forge
from tests.servers.git_cli import commit_file, git_text, run_git
from tests.servers.openapi_contract import GITHUB_REST_SUBSET, OpenAPIContract
from tests.shared_files import require


@pytest.fixture(scope="module")
def contract() -> OpenAPIContract:
    return OpenAPIContract.load(require(GITHUB_REST_SUBSET))


def _representative_session(forge: Forge) -> None:
    """What the bot and a defending team do in a game: read, push, open, merge, poll CI."""
    def client(token: str) -> Github:
        return Github(base_url=forge.github.api_url, auth=Auth.Token(token), per_page=2, retry=None,
                      seconds_between_requests=None, seconds_between_writes=None)

    bot = client(BOT_TOKEN).get_repo(forge.full_name)
    member = client(MEMBER_TOKEN).get_repo(forge.full_name)
    work = forge.clone("work")
    run_git("checkout", "--quiet", "-b", "fix", cwd=work)
    commit_file(work, "k8s/deployment.yaml", "replicas: 1\nimage: chat:1.0\n", "one replica")
    head = commit_file(work, "app/main.py", "print('hi')\n", "add app")
    forge.push(work, "HEAD:refs/heads/fix")
    clash = forge.clone("clash")
    run_git("checkout", "--quiet", "-b", "clash", cwd=clash)
    commit_file(clash, "k8s/deployment.yaml", "replicas: 7\n", "seven replicas")
    forge.push(clash, "HEAD:refs/heads/clash")

    bot.get_branch("main")
    assert bot.get_git_ref("heads/main").object.sha  # reading an attribute forces the lazy fetch
    list(bot.get_commits(sha="fix"))
    bot.get_commit(head)
    bot.compare("main", "fix")
    bot.get_contents("k8s/deployment.yaml")
    bot.get_contents("k8s")
    pr = member.create_pull(base="main", head="fix", title="Fix", body="")
    other = member.create_pull(base="main", head="clash", title="Clash")
    list(bot.get_pulls(state="all"))
    list(bot.get_pull(pr.number).get_commits())
    pr.merge(merge_method="merge")
    bot.get_pull(pr.number)
    with pytest.raises(GithubException):
        other.merge(sha="0" * 40)  # 409: head moved
    with pytest.raises(GithubException):
        other.merge()  # 405: conflicts with the merged PR
    with pytest.raises(GithubException):
        member.create_pull(base="main", head="nope", title="x", body="")
    with pytest.raises(GithubException):
        bot.get_branch("missing")

    _merges_and_refusals(forge, member)

    sha = git_text("rev-parse", "main", cwd=forge.bare)
    forge.github.add_workflow_run("team-a", "chat", sha, "completed", "success", head_branch="main")
    forge.github.add_workflow_run("team-a", "chat", "e" * 40, "queued", None)
    forge.github.add_commit_status("team-a", "chat", sha, "pending", context="ci", target_url="http://ci.test/1")
    list(bot.get_workflow_runs(head_sha=sha))
    list(bot.get_workflow_runs())
    list(bot.get_commit(sha).get_check_runs())
    bot.get_commit(sha).get_combined_status()
    client(BOT_TOKEN).get_rate_limit()
    for path in ("/repos/team-a/nope", "/repos/team-a/chat/git/ref/heads/nope", "/repos/team-a/chat/commits/nope"):
        httpx.get(forge.github.api_url + path, headers={"Authorization": f"token {BOT_TOKEN}"})
    httpx.get(f"{forge.github.api_url}/repos/{forge.full_name}")  # 401
    auth = {"Authorization": f"token {BOT_TOKEN}"}
    forge.github.limits.secondary(retry_after=30, times=1)
    httpx.get(f"{forge.github.api_url}/repos/{forge.full_name}", headers=auth)  # 403 secondary
    forge.github.exhaust_rate_limit(timedelta(minutes=5))
    httpx.get(f"{forge.github.api_url}/repos/{forge.full_name}/pulls", headers=auth)  # 403 primary
    forge.github.restore_rate_limit()
    forge.github.outage.fail(503, times=1)
    httpx.get(f"{forge.github.api_url}/repos/{forge.full_name}/branches/main", headers=auth)  # 503


def _merges_and_refusals(forge: Forge, member: Repository) -> None:
    """Squash and rebase merges, a disabled method and unmet required checks (all 405s)."""
    for branch in ("squashed", "rebased", "blocked"):
        work = forge.clone(f"work-{branch}")
        run_git("checkout", "--quiet", "-b", branch, cwd=work)
        commit_file(work, f"{branch}.txt", f"{branch}\n", f"Add {branch}")
        forge.push(work, f"HEAD:refs/heads/{branch}")
    member.create_pull(base="main", head="squashed", title="Squash me").merge(merge_method="squash")
    member.create_pull(base="main", head="rebased", title="Rebase me").merge(merge_method="rebase")
    blocked = member.create_pull(base="main", head="blocked", title="Blocked")
    forge.github.set_merge_methods("team-a", "chat", squash=False)
    with pytest.raises(GithubException):
        blocked.merge(merge_method="squash")
    forge.github.protect("team-a", "chat", "main", BranchProtection(required_status_checks=("ci",)))
    member.get_pull(blocked.number)  # mergeable_state "blocked"
    with pytest.raises(GithubException):
        blocked.merge()
    forge.github.unprotect("team-a", "chat", "main")


def test_every_response_matches_the_published_schema(forge: Forge, contract: OpenAPIContract) -> None:
    _representative_session(forge)

    recorded = forge.github.responses
    checked = [r for r in recorded if contract.has_operation(r.method, r.operation_path)]
    problems = [
        str(violation)
        for response in checked
        for violation in contract.violations(response.method, response.operation_path, response.status, response.body)
    ]
    assert problems == [], "\n".join(problems[:40])

    answered = {(r.method, r.operation_path) for r in checked if r.status < 300}
    assert contract.operations() - answered == set(), "the session should exercise every operation"
    statuses = {r.status for r in checked}
    assert {200, 201, 401, 403, 404, 405, 409, 422, 503} <= statuses


def test_the_checker_itself_catches_broken_bodies(contract: OpenAPIContract) -> None:
    """Guards against a checker that passes everything (e.g. a `$ref` that resolves to `{}`)."""
    rate = {"limit": 1, "remaining": 1, "reset": 1, "used": 0}
    assert contract.violations("GET", "/rate_limit", 200, {"resources": {"core": rate, "search": rate}, "rate": rate}) == []
    missing = contract.violations("GET", "/rate_limit", 200, {"resources": {"core": rate}, "rate": rate})
    assert [v.message for v in missing] == ["'search' is a required property"]
    bad_date = contract.violations("GET", "/repos/{owner}/{repo}/pulls/{pull_number}", 200, {"merged_at": "yesterday"})
    assert any("date-time" in v.message for v in bad_date)
    assert contract.violations("GET", "/repos/{owner}/{repo}", 404, {"message": "Not Found"}) == []
    assert contract.violations("GET", "/repos/{owner}/{repo}", 404, {"message": 404}) != []
