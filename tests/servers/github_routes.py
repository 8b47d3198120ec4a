"""The GitHub REST operations of the test forge (repos, commits, contents, CI) and the route table."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from tests.servers import github_apps as apps
from tests.servers import github_merge as merges
from tests.servers import github_payloads as render
from tests.servers import github_pulls as pulls
from tests.servers.bare_repo import BareRepo, CommitInfo
from tests.servers.github_call import (
    MAX_LISTED_COMMITS,
    ApiError,
    Call,
    Reply,
    commit_json,
    page_links,
    paged,
    resolve_commit,
)


def rate_limit(call: Call) -> Reply:
    """GET /rate_limit."""
    core = call.server.rate_limit_numbers(call.login)
    spare = {"limit": 30, "remaining": 30, "reset": core["reset"], "used": 0}
    resources = {"core": core, "search": spare, "graphql": dict(spare, limit=5000, remaining=5000)}
    return Reply({"resources": resources, "rate": core})


def get_repo(call: Call) -> Reply:
    """GET /repos/{owner}/{repo}."""
    bare, urls = call.repo()
    body = call.server.repo_json(bare, urls, full=True)
    return Reply(body, last_modified=bare.last_commit_time())


def get_user(call: Call) -> Reply:
    """GET /users/{username} (not in the contract subset; enough for PyGithub's lazy users)."""
    login = str(call.params["username"])
    body = render.user(call.server.api_url, call.server.html_url, login)
    identity = call.server.identity_of(login)
    body.update({"name": identity.name, "email": identity.email})
    return Reply(body)


def get_branch(call: Call) -> Reply:
    """GET /repos/{owner}/{repo}/branches/{branch}."""
    bare, urls = call.repo()
    name = str(call.params["branch"])
    sha = bare.branch_sha(name)
    if sha is None:
        raise ApiError(404, "Branch not found")
    info = bare.commit(sha)
    protected = call.server.protection(call.owner, call.name, name) is not None
    return Reply(render.branch(urls, name, commit_json(call, bare, urls, info), protected), last_modified=info.committer.date)


def get_ref(call: Call) -> Reply:
    """GET /repos/{owner}/{repo}/git/ref/{ref} (and the legacy /git/refs/{ref})."""
    bare, urls = call.repo()
    ref = "refs/" + str(call.params["ref"]).removeprefix("refs/")
    sha = bare.ref_sha(ref) if ref.startswith(("refs/heads/", "refs/tags/")) else None
    if sha is None:
        raise ApiError(404, "Not Found")
    return Reply(render.git_ref(urls, ref, sha))


def list_commits(call: Call) -> Reply:
    """GET /repos/{owner}/{repo}/commits."""
    bare, urls = call.repo()
    start = call.query.get("sha") or bare.default_branch()
    if not bare.branches():
        raise ApiError(409, "Git Repository is empty.")
    sha = bare.resolve(start)
    if sha is None:
        raise ApiError(404, f"No commit found for SHA: {start}")
    paths = [call.query["path"]] if call.query.get("path") else []
    since, until = _git_date(call.query.get("since")), _git_date(call.query.get("until"))
    page, per_page = call.page()
    infos = bare.log([sha], paths, since, until, skip=(page - 1) * per_page, limit=per_page)
    total = bare.count([sha], paths, since, until)
    body = [commit_json(call, bare, urls, info) for info in infos]
    return Reply(body, links=page_links(page, per_page, total))


def _git_date(value: str | None) -> str | None:
    """An ISO 8601 query value as `@epoch`, which git reads exactly (no approxidate guessing)."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as error:
        raise ApiError(422, "Validation Failed", [{"resource": "Commit", "field": "since", "code": "invalid"}]) from error
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return f"@{int(moment.timestamp())}"


def get_commit(call: Call) -> Reply:
    """GET /repos/{owner}/{repo}/commits/{ref}, with files and patches."""
    bare, urls = call.repo()
    info = bare.commit(resolve_commit(bare, str(call.params["ref"])))
    return Reply(commit_json(call, bare, urls, info, with_files=True), last_modified=info.committer.date)


def compare(call: Call) -> Reply:
    """GET /repos/{owner}/{repo}/compare/{base}...{head}."""
    bare, urls = call.repo()
    basehead = str(call.params["basehead"])
    base_ref, sep, head_ref = basehead.partition("...")
    if not sep:
        base_ref, sep, head_ref = basehead.partition("..")
    base_ref, head_ref = base_ref.split(":")[-1], head_ref.split(":")[-1]
    base, head = bare.resolve(base_ref), bare.resolve(head_ref)
    if not sep or base is None or head is None:
        raise ApiError(404, "Not Found")
    merge_base = bare.merge_base(base, head)
    if merge_base is None:
        raise ApiError(404, f"No common ancestor between {base_ref} and {head_ref}.")
    ahead = bare.count([f"{base}..{head}"])
    behind = bare.count([f"{head}..{base}"])
    status = "identical" if not (ahead or behind) else "ahead" if not behind else "behind" if not ahead else "diverged"
    commits = bare.log([f"{base}..{head}"], reverse=True, limit=None)[:MAX_LISTED_COMMITS]
    files = bare.diff(merge_base, head)
    html = f"{urls.html_repo}/compare/{basehead}"
    body = {
        "url": f"{urls.repo}/compare/{basehead}",
        "html_url": html,
        "permalink_url": f"{urls.html_repo}/compare/{urls.owner}:{base}...{urls.owner}:{head}",
        "diff_url": f"{html}.diff",
        "patch_url": f"{html}.patch",
        "base_commit": commit_json(call, bare, urls, bare.commit(base)),
        "merge_base_commit": commit_json(call, bare, urls, bare.commit(merge_base)),
        "status": status,
        "ahead_by": ahead,
        "behind_by": behind,
        "total_commits": ahead,
        "commits": [commit_json(call, bare, urls, info) for info in commits],
        "files": [render.diff_entry(urls, head, change) for change in files],
    }
    return Reply(body)


def get_contents(call: Call) -> Reply:
    """GET /repos/{owner}/{repo}/contents/{path}?ref=: a file (base64) or a directory listing."""
    bare, urls = call.repo()
    ref = call.query.get("ref") or bare.default_branch()
    path = str(call.params.get("path", "")).strip("/")
    sha = bare.resolve(ref)
    entry = bare.tree_entry(sha, path) if sha else None
    if entry is None:
        raise ApiError(404, "Not Found")
    if entry.kind == "tree":
        return Reply([render.content_entry(urls, ref, child, None) for child in bare.list_tree(entry.sha, path)])
    content = bare.blob(entry.sha) if entry.kind == "blob" else b""
    return Reply(render.content_entry(urls, ref, entry, content))


def list_workflow_runs(call: Call) -> Reply:
    """GET /repos/{owner}/{repo}/actions/runs?head_sha=&branch=&status=&event=."""
    bare, urls = call.repo()
    q = call.query
    with call.server.state.lock:
        runs = [
            run for run in call.server.state.runs
            if (run.owner, run.repo) == (call.owner, call.name)
            and (not q.get("head_sha") or run.head_sha == q["head_sha"])
            and (not q.get("branch") or run.head_branch == q["branch"])
            and (not q.get("event") or run.event == q["event"])
            and (not q.get("status") or q["status"] in (run.status, run.conclusion))
        ]
    runs.sort(key=lambda run: (run.created_at, run.id), reverse=True)
    reply = paged(call, runs)
    repo_json = call.server.repo_json(bare, urls, full=False)
    body = [render.workflow_run(urls, run, repo_json, _maybe_commit(bare, run.head_sha)) for run in reply.body]
    return Reply({"total_count": len(runs), "workflow_runs": body}, links=reply.links)


def _maybe_commit(bare: BareRepo, sha: str) -> CommitInfo | None:
    resolved = bare.resolve(sha)
    return bare.commit(resolved) if resolved else None


def list_check_runs(call: Call) -> Reply:
    """GET /repos/{owner}/{repo}/commits/{ref}/check-runs (one check run per workflow run)."""
    bare, urls = call.repo()
    sha = resolve_commit(bare, str(call.params["ref"]))
    name, status = call.query.get("check_name"), call.query.get("status")
    with call.server.state.lock:
        runs = [
            run for run in call.server.state.runs
            if (run.owner, run.repo, run.head_sha) == (call.owner, call.name, sha)
            and (not name or run.name == name) and (not status or run.status == status)
        ]
    reply = paged(call, runs)
    return Reply({"total_count": len(runs), "check_runs": [render.check_run(urls, run) for run in reply.body]}, links=reply.links)


def combined_status(call: Call) -> Reply:
    """GET /repos/{owner}/{repo}/commits/{ref}/status (latest status per context)."""
    bare, urls = call.repo()
    sha = resolve_commit(bare, str(call.params["ref"]))
    latest: dict[str, Any] = {}
    with call.server.state.lock:
        for status in call.server.state.statuses:
            if (status.owner, status.repo, status.sha) == (call.owner, call.name, sha):
                latest[status.context] = status
    body = render.combined_status(urls, sha, list(latest.values()), call.server.repo_json(bare, urls, full=False))
    return Reply(body)


Handler = Callable[[Call], Reply]
REPO = "/repos/{owner}/{repo}"

# (method, Starlette path, handler). Order matters: the `{ref:path}` routes with a
# suffix must come before the bare `/commits/{ref:path}`.
ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/rate_limit", rate_limit),
    ("POST", "/app/installations/{installation_id:int}/access_tokens", apps.create_installation_token),
    ("GET", "/users/{username}", get_user),
    ("GET", REPO, get_repo),
    ("GET", REPO + "/branches/{branch:path}", get_branch),
    ("GET", REPO + "/git/ref/{ref:path}", get_ref),
    ("GET", REPO + "/git/refs/{ref:path}", get_ref),
    ("GET", REPO + "/commits", list_commits),
    ("GET", REPO + "/commits/{ref:path}/pulls", pulls.commit_pulls),
    ("GET", REPO + "/commits/{ref:path}/check-runs", list_check_runs),
    ("GET", REPO + "/commits/{ref:path}/status", combined_status),
    ("GET", REPO + "/commits/{ref:path}", get_commit),
    ("GET", REPO + "/compare/{basehead:path}", compare),
    ("GET", REPO + "/contents", get_contents),
    ("GET", REPO + "/contents/{path:path}", get_contents),
    ("GET", REPO + "/pulls", pulls.list_pulls),
    ("POST", REPO + "/pulls", pulls.create_pull),
    ("GET", REPO + "/pulls/{pull_number:int}", pulls.get_pull),
    ("PATCH", REPO + "/pulls/{pull_number:int}", pulls.update_pull),
    ("GET", REPO + "/pulls/{pull_number:int}/commits", pulls.list_pull_commits),
    ("PUT", REPO + "/pulls/{pull_number:int}/merge", merges.merge_pull),
    ("GET", REPO + "/actions/runs", list_workflow_runs),
]


def openapi_path(route_path: str) -> str:
    """The path template GitHub's OpenAPI description uses for a route (convertors dropped)."""
    template = re.sub(r"\{(\w+):\w+\}", r"{\1}", route_path)
    return template + "/{path}" if template.endswith("/contents") else template
