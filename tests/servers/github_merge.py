"""PUT /repos/{owner}/{repo}/pulls/{n}/merge: merge, squash and rebase, made as GitHub makes them.

The commits (real objects in the bare repo, committer `GitHub <noreply@github.com>`):

* merge: a two-parent commit authored by the merging user, titled
  "Merge pull request #N from owner/branch", with the PR title as body;
* squash: one commit on the base with the PR's tree, authored by the PR author under the
  identity their commits use, titled and described by GitHub's repo defaults
  (`squash_merge_commit_title: COMMIT_OR_PR_TITLE`, `squash_merge_commit_message:
  COMMIT_MESSAGES`): one commit → its own title "(#N)" and body; several → "<PR title> (#N)"
  and a "* <message>" list, plus `Co-authored-by:` for the other commit authors;
* rebase: every non-merge commit replayed onto the base with new shas, author and author
  date kept, committer GitHub.

`merge_commit_sha` and the answer's `sha` name the merge commit, the squash commit, or the
last rebased commit (what the base branch now points at).

Refusals, all 405 unless said: a merge method the repo disables ("Squash merges are not
allowed on this repository.", seen in akuity/kargo#6490 and Mergifyio/mergify#1812),
required status checks not passed (`branch_protection`), conflicts ("Pull Request is not
mergeable"), a stale `sha` (409 "Head branch was modified. Review and try the merge again.").
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from tests.servers.bare_repo import BareRepo, CommitInfo, Identity, MergeConflict, RefMoved
from tests.servers.branch_protection import PROTECTION_DOCS, checks_refusal
from tests.servers.github_call import ApiError, Call, Reply, find_pull, live_shas
from tests.servers.github_payloads import Json
from tests.servers.github_state import PullRecord

MERGE_DOCS = "https://docs.github.com/rest/pulls/pulls#merge-a-pull-request"
NOT_MERGEABLE = "Pull Request is not mergeable"
DISABLED = {
    "merge": "Merge commits are not allowed on this repository.",
    "squash": "Squash merges are not allowed on this repository.",
    "rebase": "Rebase merges are not allowed on this repository.",
}


def merge_pull(call: Call) -> Reply:
    """PUT /repos/{owner}/{repo}/pulls/{pull_number}/merge."""
    bare, _ = call.repo()
    server = call.server
    payload = call.json if isinstance(call.json, dict) else {}
    method = payload.get("merge_method", "merge")
    with server.state.lock:
        pr = find_pull(call)
        if method not in DISABLED:
            raise ApiError(422, "Validation Failed", [{"resource": "PullRequest", "field": "merge_method", "code": "invalid"}])
        if pr.state != "open":
            raise ApiError(405, NOT_MERGEABLE, docs=MERGE_DOCS)
        if not server.merge_settings(call.owner, call.name).allows(method):
            raise ApiError(405, DISABLED[method], docs=MERGE_DOCS)
        head, base = live_shas(bare, pr)
        if payload.get("sha") and payload["sha"] != head:
            raise ApiError(409, "Head branch was modified. Review and try the merge again.", docs=MERGE_DOCS)
        refusal = protection_refusal(call, pr.base, head)
        if refusal is not None:
            raise ApiError(405, refusal, docs=PROTECTION_DOCS)
        try:
            landed = _land(call, bare, pr, method, payload, base, head)
        except MergeConflict as error:
            raise ApiError(405, NOT_MERGEABLE, docs=MERGE_DOCS) from error
        try:
            bare.move_branch(pr.base, landed[-1], base)
        except RefMoved as error:
            raise ApiError(405, "Base branch was modified. Review and try the merge again.", docs=MERGE_DOCS) from error
        now = server.now()
        pr.state, pr.merged, pr.merged_by, pr.merge_commit_sha, pr.landed_shas = "closed", True, call.login, landed[-1], tuple(landed)
        pr.merged_at = pr.closed_at = pr.updated_at = now
    return Reply({"sha": landed[-1], "merged": True, "message": "Pull Request successfully merged"})


def protection_refusal(call: Call, branch: str, head: str) -> str | None:
    """GitHub's message when the base's protection blocks merging `head`, else None."""
    rule = call.server.protection(call.owner, call.name, branch)
    return checks_refusal(rule, passed_checks(call, head)) if rule is not None else None


def passed_checks(call: Call, sha: str) -> set[str]:
    """Names of the checks that passed on `sha`: successful statuses and check runs."""
    state = call.server.state
    with state.lock:
        latest = {s.context: s.state for s in state.statuses if (s.owner, s.repo, s.sha) == (call.owner, call.name, sha)}
        runs = [r for r in state.runs if (r.owner, r.repo, r.head_sha) == (call.owner, call.name, sha)]
    passed = {context for context, result in latest.items() if result == "success"}
    return passed | {r.name for r in runs if r.status == "completed" and r.conclusion in ("success", "neutral", "skipped")}


def can_rebase(call: Call, bare: BareRepo, base: str, head: str) -> bool:
    """Whether a rebase merge would replay cleanly (the PR's `rebaseable`)."""
    try:
        rebase(bare, base, head, call.server.merge_committer, call.server.now())
    except MergeConflict:
        return False
    return True


def rebase(bare: BareRepo, base: str, head: str, committer: Identity, when: datetime) -> list[str]:
    """Replay the PR's non-merge commits onto `base`; the new shas, oldest first (no ref moves)."""
    tip, landed = base, []
    for info in _pr_commits(bare, base, head):
        if len(info.parents) != 1:
            continue  # like `git rebase`, merge commits are dropped and their changes kept by the others
        tree = bare.replay_tree(info.sha, tip)
        author = Identity(info.author.name, info.author.email)
        tip = bare.commit_tree(tree, [tip], info.message, author, committer, when, authored=info.author.date)
        landed.append(tip)
    return landed or [base]


def _land(call: Call, bare: BareRepo, pr: PullRecord, method: str, payload: Json, base: str, head: str) -> list[str]:
    server = call.server
    now = server.now()
    if method == "rebase":
        return rebase(bare, base, head, server.merge_committer, now)
    tree = bare.merge_trees(base, head)
    if method == "merge":
        title = payload.get("commit_title") or f"Merge pull request #{pr.number} from {call.owner}/{pr.head}"
        message = _join(title, payload.get("commit_message", pr.title))
        return [bare.commit_tree(tree, [base, head], message, server.identity_of(call.login), server.merge_committer, now)]
    commits = _pr_commits(bare, base, head)
    author = _pr_author(call, pr, commits)
    message = _squash_message(pr, commits, payload, author)
    return [bare.commit_tree(tree, [base], message, author, server.merge_committer, now)]


def _pr_commits(bare: BareRepo, base: str, head: str) -> list[CommitInfo]:
    return bare.log([f"{base}..{head}"], reverse=True)


def _pr_author(call: Call, pr: PullRecord, commits: Sequence[CommitInfo]) -> Identity:
    """The PR author as their commits name them (their login's email), else their profile."""
    logins = call.server.logins_by_email()
    for info in commits:
        if logins.get(info.author.email.lower()) == pr.user:
            return Identity(info.author.name, info.author.email)
    return call.server.identity_of(pr.user)


def _squash_message(pr: PullRecord, commits: Sequence[CommitInfo], payload: Json, author: Identity) -> str:
    if len(commits) == 1:
        subject, _, rest = commits[0].message.partition("\n")
        title, body = f"{subject} (#{pr.number})", rest.strip()
    else:
        title, body = f"{pr.title} (#{pr.number})", "\n\n".join(f"* {info.message}" for info in commits)
    if "commit_message" in payload:
        return _join(payload.get("commit_title") or title, payload["commit_message"])
    others = dict.fromkeys(
        f"Co-authored-by: {info.author.name} <{info.author.email}>"
        for info in commits if info.author.email.lower() != author.email.lower()
    )
    trailers = "\n".join(others)
    return _join(payload.get("commit_title") or title, _join(body, trailers))


def _join(title: str, body: str | None) -> str:
    return f"{title}\n\n{body}" if body else title
