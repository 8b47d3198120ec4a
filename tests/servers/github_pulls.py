"""Pull request operations of the test forge: list, open, read and update (merging: `github_merge`)."""

from __future__ import annotations

from tests.servers import github_payloads as render
from tests.servers.bare_repo import BareRepo, MergeConflict
from tests.servers.github_call import (
    MAX_LISTED_COMMITS,
    ApiError,
    Call,
    Reply,
    commit_json,
    find_pull,
    live_shas,
    paged,
    resolve_commit,
)
from tests.servers.github_merge import can_rebase, protection_refusal
from tests.servers.github_payloads import Json, RepoUrls
from tests.servers.github_state import PullRecord


def list_pulls(call: Call) -> Reply:
    """GET /repos/{owner}/{repo}/pulls?state=&head=&base=&sort=&direction=."""
    bare, urls = call.repo()
    state = call.query.get("state", "open")
    head = call.query.get("head", "").split(":")[-1]
    base = call.query.get("base")
    with call.server.state.lock:
        pulls = [
            pr for pr in call.server.state.pulls_of(call.owner, call.name)
            if (state == "all" or pr.state == state) and (not head or pr.head == head) and (not base or pr.base == base)
        ]
    by_update = call.query.get("sort") in ("updated", "popularity", "long-running")
    pulls.sort(
        key=lambda pr: (pr.updated_at if by_update else pr.created_at, pr.number),
        reverse=call.query.get("direction", "desc") == "desc",
    )
    reply = paged(call, pulls)
    return Reply([_pull_json(call, bare, urls, pr, full=False) for pr in reply.body], links=reply.links)


def create_pull(call: Call) -> Reply:
    """POST /repos/{owner}/{repo}/pulls."""
    bare, urls = call.repo()
    payload = call.json if isinstance(call.json, dict) else {}
    title, head, base = payload.get("title"), str(payload.get("head", "")).split(":")[-1], payload.get("base")
    for field_name, value in (("title", title), ("head", head), ("base", base)):
        if not value:
            raise ApiError(422, "Validation Failed", [{"resource": "PullRequest", "field": field_name, "code": "missing_field"}])
    head_sha, base_sha = bare.branch_sha(head), bare.branch_sha(str(base))
    for field_name, sha in (("head", head_sha), ("base", base_sha)):
        if sha is None:
            raise ApiError(422, "Validation Failed", [{"resource": "PullRequest", "field": field_name, "code": "invalid"}])
    assert head_sha is not None and base_sha is not None
    if bare.count([f"{base_sha}..{head_sha}"]) == 0:
        message = f"No commits between {base} and {head}"
        raise ApiError(422, "Validation Failed", [{"resource": "PullRequest", "code": "custom", "message": message}])
    server = call.server
    with server.state.lock:
        pulls = server.state.pulls_of(call.owner, call.name)
        if any(pr.state == "open" and pr.head == head and pr.base == base for pr in pulls):
            message = f"A pull request already exists for {call.owner}:{head}."
            raise ApiError(422, "Validation Failed", [{"resource": "PullRequest", "code": "custom", "message": message}])
        now = server.now()
        pr = PullRecord(
            number=max((p.number for p in pulls), default=0) + 1, id=server.state.new_id(), title=str(title),
            body=payload.get("body"), head=head, base=str(base), user=call.login, created_at=now, updated_at=now,
            head_sha=head_sha, base_sha=base_sha,
        )
        pulls.append(pr)
    return Reply(_pull_json(call, bare, urls, pr, full=True), status=201)


def _pull_json(call: Call, bare: BareRepo, urls: RepoUrls, pr: PullRecord, full: bool) -> Json:
    head, base = live_shas(bare, pr)
    repo_json = call.server.repo_json(bare, urls, full=False)
    extra: Json | None = None
    if full:
        merge_base = bare.merge_base(base, head) or base
        files = bare.diff(merge_base, head)
        mergeable: bool | None = None
        rebaseable: bool | None = None
        mergeable_state = "unknown"
        if pr.state == "open":
            try:
                bare.merge_trees(base, head)
                mergeable = True
                mergeable_state = "blocked" if protection_refusal(call, pr.base, head) else "clean"
            except MergeConflict:
                mergeable, mergeable_state = False, "dirty"
            rebaseable = can_rebase(call, bare, base, head)
        extra = {
            "merged": pr.merged, "mergeable": mergeable, "rebaseable": rebaseable, "mergeable_state": mergeable_state,
            "comments": 0, "review_comments": 0, "maintainer_can_modify": False,
            "commits": bare.count([f"{base}..{head}"]),
            "additions": sum(f.additions for f in files), "deletions": sum(f.deletions for f in files),
            "changed_files": len(files),
        }
    return render.pull_request(urls, pr, repo_json, head, base, extra)


def get_pull(call: Call) -> Reply:
    """GET /repos/{owner}/{repo}/pulls/{pull_number}."""
    bare, urls = call.repo()
    pr = find_pull(call)
    return Reply(_pull_json(call, bare, urls, pr, full=True), last_modified=pr.updated_at)


def update_pull(call: Call) -> Reply:
    """PATCH /repos/{owner}/{repo}/pulls/{pull_number}: title, body, state (not in the contract subset)."""
    bare, urls = call.repo()
    pr = find_pull(call)
    payload = call.json if isinstance(call.json, dict) else {}
    with call.server.state.lock:
        pr.title = payload.get("title", pr.title)
        pr.body = payload.get("body", pr.body)
        if payload.get("state") in ("open", "closed") and not pr.merged:
            pr.state = payload["state"]
            pr.closed_at = call.server.now() if pr.state == "closed" else None
        pr.updated_at = call.server.now()
    return Reply(_pull_json(call, bare, urls, pr, full=True))


def list_pull_commits(call: Call) -> Reply:
    """GET /repos/{owner}/{repo}/pulls/{pull_number}/commits (oldest first)."""
    bare, urls = call.repo()
    pr = find_pull(call)
    head, base = live_shas(bare, pr)
    infos = bare.log([f"{base}..{head}"], reverse=True)[:MAX_LISTED_COMMITS]
    reply = paged(call, infos)
    return Reply([commit_json(call, bare, urls, info) for info in reply.body], links=reply.links)


def commit_pulls(call: Call) -> Reply:
    """GET /repos/{owner}/{repo}/commits/{sha}/pulls (pull-request-simple list; not in the subset).

    As GitHub documents: only the merged PR that introduced a commit once it is on the
    default branch, otherwise the open and merged PRs containing it.
    """
    bare, urls = call.repo()
    sha = resolve_commit(bare, str(call.params["ref"]))
    with call.server.state.lock:
        pulls = list(call.server.state.pulls_of(call.owner, call.name))
    matching = []
    for pr in pulls:
        head, base = live_shas(bare, pr)
        contains = sha in pr.landed_shas or (bare.is_ancestor(sha, head) and not bare.is_ancestor(sha, base))
        if contains and (pr.state == "open" or pr.merged):
            matching.append(pr)
    default_tip = bare.branch_sha(bare.default_branch())
    if default_tip and bare.is_ancestor(sha, default_tip):
        matching = [pr for pr in matching if pr.merged]
    reply = paged(call, matching)
    return Reply([_pull_json(call, bare, urls, pr, full=False) for pr in reply.body], links=reply.links)
