"""Render the test forge's state as GitHub REST JSON (shapes from GitHub's OpenAPI description).

Pure functions: they take plain values and URLs and return JSON-ready dicts, so the
HTTP layer stays thin and the shapes can be checked against the contract in one place.
"""

from __future__ import annotations

import base64
import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tests.servers.bare_repo import CommitInfo, FileChange, TreeEntry
from tests.servers.github_state import CommitStatus, PullRecord, WorkflowRun

Json = dict[str, Any]


def iso(moment: datetime | None) -> str | None:
    """GitHub's timestamp format: UTC with a `Z`."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def stable_id(*parts: str) -> int:
    """A positive id that stays the same for the same name across runs."""
    return zlib.crc32("/".join(parts).encode()) & 0x7FFFFFFF or 1


def node_id(kind: str, number: int) -> str:
    """An opaque GraphQL-style node id, as GitHub returns one on every object."""
    return base64.b64encode(f"0:{kind}{number}".encode()).decode().rstrip("=")


@dataclass(frozen=True)
class RepoUrls:
    """Where things of one repository live on the test server."""

    api: str  # e.g. http://127.0.0.1:PORT/api/v3
    html: str  # e.g. http://127.0.0.1:PORT
    owner: str
    name: str
    clone_url: str

    @property
    def repo(self) -> str:
        return f"{self.api}/repos/{self.owner}/{self.name}"

    @property
    def html_repo(self) -> str:
        return f"{self.html}/{self.owner}/{self.name}"


def user(api: str, html: str, login: str, kind: str = "User") -> Json:
    """simple-user."""
    number = stable_id("user", login)
    base = f"{api}/users/{login}"
    return {
        "login": login,
        "id": number,
        "node_id": node_id("U", number),
        "avatar_url": f"{html}/avatars/{login}",
        "gravatar_id": "",
        "url": base,
        "html_url": f"{html}/{login}",
        "followers_url": f"{base}/followers",
        "following_url": f"{base}/following{{/other_user}}",
        "gists_url": f"{base}/gists{{/gist_id}}",
        "starred_url": f"{base}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{base}/subscriptions",
        "organizations_url": f"{base}/orgs",
        "repos_url": f"{base}/repos",
        "events_url": f"{base}/events{{/privacy}}",
        "received_events_url": f"{base}/received_events",
        "type": kind,
        "site_admin": False,
    }


def minimal_repository(urls: RepoUrls) -> Json:
    """minimal-repository: the URL templates every repository object carries."""
    r = urls.repo
    templates = {
        "archive_url": "/{archive_format}{/ref}", "assignees_url": "/assignees{/user}",
        "blobs_url": "/git/blobs{/sha}", "branches_url": "/branches{/branch}",
        "collaborators_url": "/collaborators{/collaborator}", "comments_url": "/comments{/number}",
        "commits_url": "/commits{/sha}", "compare_url": "/compare/{base}...{head}",
        "contents_url": "/contents/{+path}", "contributors_url": "/contributors",
        "deployments_url": "/deployments", "downloads_url": "/downloads", "events_url": "/events",
        "forks_url": "/forks", "git_commits_url": "/git/commits{/sha}", "git_refs_url": "/git/refs{/sha}",
        "git_tags_url": "/git/tags{/sha}", "hooks_url": "/hooks", "issue_comment_url": "/issues/comments{/number}",
        "issue_events_url": "/issues/events{/number}", "issues_url": "/issues{/number}", "keys_url": "/keys{/key_id}",
        "labels_url": "/labels{/name}", "languages_url": "/languages", "merges_url": "/merges",
        "milestones_url": "/milestones{/number}", "notifications_url": "/notifications{?since,all,participating}",
        "pulls_url": "/pulls{/number}", "releases_url": "/releases{/id}", "stargazers_url": "/stargazers",
        "statuses_url": "/statuses/{sha}", "subscribers_url": "/subscribers", "subscription_url": "/subscription",
        "tags_url": "/tags", "teams_url": "/teams", "trees_url": "/git/trees{/sha}",
    }
    number = stable_id("repo", urls.owner, urls.name)
    return {
        "id": number,
        "node_id": node_id("R", number),
        "name": urls.name,
        "full_name": f"{urls.owner}/{urls.name}",
        "owner": user(urls.api, urls.html, urls.owner, "Organization"),
        "private": True,
        "html_url": urls.html_repo,
        "description": None,
        "fork": False,
        "url": r,
        **{key: r + suffix for key, suffix in templates.items()},
    }


def repository(
    urls: RepoUrls, default_branch: str, created: datetime, pushed: datetime | None, full: bool,
    merge_methods: tuple[bool, bool, bool] = (True, True, True),
) -> Json:
    """repository (full=False, as nested in pull requests) or full-repository (full=True).

    `merge_methods`: whether merge commits, squash and rebase merges are allowed.
    """
    body = minimal_repository(urls)
    body.update(
        {
            "clone_url": urls.clone_url,
            "git_url": urls.clone_url,
            "ssh_url": f"git@127.0.0.1:{urls.owner}/{urls.name}.git",
            "svn_url": urls.html_repo,
            "mirror_url": None,
            "homepage": None,
            "language": None,
            "forks": 0, "forks_count": 0, "stargazers_count": 0, "watchers": 0, "watchers_count": 0,
            "size": 0, "open_issues": 0, "open_issues_count": 0,
            "default_branch": default_branch,
            "has_issues": True, "has_projects": False, "has_wiki": False, "has_pages": False,
            "has_downloads": True, "has_discussions": False, "archived": False, "disabled": False,
            "visibility": "private", "license": None, "topics": [],
            "allow_merge_commit": merge_methods[0], "allow_squash_merge": merge_methods[1],
            "allow_rebase_merge": merge_methods[2],
            "pushed_at": iso(pushed or created), "created_at": iso(created), "updated_at": iso(pushed or created),
            "permissions": {"admin": False, "maintain": False, "push": True, "triage": True, "pull": True},
        }
    )
    if full:
        body.update({"network_count": 0, "subscribers_count": 0})
    return body


def commit(urls: RepoUrls, info: CommitInfo, authors: dict[str, str], files: list[FileChange] | None) -> Json:
    """commit, with `files` and `stats` when a diff is given (single-commit endpoints)."""
    def account(email: str) -> Json | None:
        login = authors.get(email.lower())
        return user(urls.api, urls.html, login) if login else None

    def signature(sig: Any) -> Json:
        return {"name": sig.name, "email": sig.email, "date": iso(sig.date)}

    number = stable_id("commit", info.sha)
    body: Json = {
        "url": f"{urls.repo}/commits/{info.sha}",
        "sha": info.sha,
        "node_id": node_id("C", number),
        "html_url": f"{urls.html_repo}/commit/{info.sha}",
        "comments_url": f"{urls.repo}/commits/{info.sha}/comments",
        "commit": {
            "url": f"{urls.repo}/git/commits/{info.sha}",
            "author": signature(info.author),
            "committer": signature(info.committer),
            "message": info.message,
            "comment_count": 0,
            "tree": {"sha": info.tree, "url": f"{urls.repo}/git/trees/{info.tree}"},
            "verification": {"verified": False, "reason": "unsigned", "signature": None, "payload": None, "verified_at": None},
        },
        "author": account(info.author.email),
        "committer": account(info.committer.email),
        "parents": [
            {"sha": p, "url": f"{urls.repo}/commits/{p}", "html_url": f"{urls.html_repo}/commit/{p}"} for p in info.parents
        ],
    }
    if files is not None:
        body["files"] = [diff_entry(urls, info.sha, change) for change in files]
        additions = sum(c.additions for c in files)
        deletions = sum(c.deletions for c in files)
        body["stats"] = {"additions": additions, "deletions": deletions, "total": additions + deletions}
    return body


def diff_entry(urls: RepoUrls, ref: str, change: FileChange) -> Json:
    """diff-entry."""
    body: Json = {
        "sha": change.sha,
        "filename": change.filename,
        "status": change.status,
        "additions": change.additions,
        "deletions": change.deletions,
        "changes": change.additions + change.deletions,
        "blob_url": f"{urls.html_repo}/blob/{ref}/{change.filename}",
        "raw_url": f"{urls.html_repo}/raw/{ref}/{change.filename}",
        "contents_url": f"{urls.repo}/contents/{change.filename}?ref={ref}",
    }
    if change.patch is not None:
        body["patch"] = change.patch
    if change.previous_filename:
        body["previous_filename"] = change.previous_filename
    return body


def git_ref(urls: RepoUrls, ref: str, sha: str) -> Json:
    """git-ref."""
    return {
        "ref": ref,
        "node_id": node_id("REF", stable_id(urls.owner, urls.name, ref)),
        "url": f"{urls.repo}/git/{ref}",
        "object": {"type": "commit", "sha": sha, "url": f"{urls.repo}/git/commits/{sha}"},
    }


def branch(urls: RepoUrls, name: str, head: Json, protected: bool) -> Json:
    """branch-with-protection."""
    protection_url = f"{urls.repo}/branches/{name}/protection"
    return {
        "name": name,
        "commit": head,
        "_links": {"html": f"{urls.html_repo}/tree/{name}", "self": f"{urls.repo}/branches/{name}"},
        "protected": protected,
        "protection": {
            "enabled": protected,
            "required_status_checks": {"enforcement_level": "non_admins" if protected else "off", "contexts": [], "checks": []},
        },
        "protection_url": protection_url,
    }


def content_entry(urls: RepoUrls, ref: str, entry: TreeEntry, content: bytes | None) -> Json:
    """content-file (when `content` is given) or one item of content-directory."""
    kinds = {"tree": "dir", "blob": "file", "commit": "submodule"}
    kind = "symlink" if entry.mode == "120000" else kinds.get(entry.kind, "file")
    self_url = f"{urls.repo}/contents/{entry.path}?ref={ref}"
    git_url = f"{urls.repo}/git/{'trees' if kind == 'dir' else 'blobs'}/{entry.sha}"
    html_url = f"{urls.html_repo}/{'tree' if kind == 'dir' else 'blob'}/{ref}/{entry.path}"
    body: Json = {
        "type": kind,
        "size": entry.size,
        "name": entry.path.rsplit("/", 1)[-1],
        "path": entry.path,
        "sha": entry.sha,
        "url": self_url,
        "git_url": git_url,
        "html_url": html_url,
        "download_url": f"{urls.html_repo}/raw/{ref}/{entry.path}" if kind == "file" else None,
        "_links": {"self": self_url, "git": git_url, "html": html_url},
    }
    if content is not None:
        if kind == "symlink":
            body["target"] = content.decode(errors="replace")
        else:
            body["content"] = base64.encodebytes(content).decode()
            body["encoding"] = "base64"
    return body


def pull_request(urls: RepoUrls, pr: PullRecord, repo_json: Json, head_sha: str, base_sha: str, full: Json | None) -> Json:
    """pull-request-simple, or pull-request when `full` (the computed extra fields) is given."""
    api = f"{urls.repo}/pulls/{pr.number}"
    issue = f"{urls.repo}/issues/{pr.number}"
    html = f"{urls.html_repo}/pull/{pr.number}"
    statuses = f"{urls.repo}/statuses/{head_sha}"
    author = user(urls.api, urls.html, pr.user)
    owner = user(urls.api, urls.html, urls.owner, "Organization")

    def side(ref: str, sha: str) -> Json:
        return {"label": f"{urls.owner}:{ref}", "ref": ref, "sha": sha, "user": owner, "repo": repo_json}

    body: Json = {
        "url": api, "id": pr.id, "node_id": node_id("PR", pr.id), "html_url": html,
        "diff_url": f"{html}.diff", "patch_url": f"{html}.patch", "issue_url": issue,
        "commits_url": f"{api}/commits", "review_comments_url": f"{api}/comments",
        "review_comment_url": f"{urls.repo}/pulls/comments{{/number}}", "comments_url": f"{issue}/comments",
        "statuses_url": statuses, "number": pr.number, "state": pr.state, "locked": False,
        "title": pr.title, "user": author, "body": pr.body, "labels": [], "milestone": None,
        "active_lock_reason": None, "created_at": iso(pr.created_at), "updated_at": iso(pr.updated_at),
        "closed_at": iso(pr.closed_at), "merged_at": iso(pr.merged_at), "merge_commit_sha": pr.merge_commit_sha,
        "assignee": None, "assignees": [], "requested_reviewers": [], "requested_teams": [],
        "head": side(pr.head, head_sha), "base": side(pr.base, base_sha),
        "_links": {
            name: {"href": href}
            for name, href in {
                "self": api, "html": html, "issue": issue, "comments": f"{issue}/comments",
                "review_comments": f"{api}/comments", "review_comment": f"{urls.repo}/pulls/comments{{/number}}",
                "commits": f"{api}/commits", "statuses": statuses,
            }.items()
        },
        "author_association": "MEMBER", "auto_merge": None, "draft": False,
    }
    if full is not None:
        body.update(full)
        body["merged_by"] = user(urls.api, urls.html, pr.merged_by) if pr.merged_by else None
    return body


def workflow_run(urls: RepoUrls, run: WorkflowRun, repo_json: Json, head: CommitInfo | None) -> Json:
    """workflow-run."""
    api = f"{urls.repo}/actions/runs/{run.id}"
    return {
        "id": run.id, "name": run.name, "node_id": node_id("WFR", run.id), "head_branch": run.head_branch,
        "head_sha": run.head_sha, "path": run.path, "display_title": run.display_title or run.name,
        "run_number": run.run_number, "run_attempt": 1, "event": run.event, "status": run.status,
        "conclusion": run.conclusion, "workflow_id": stable_id("workflow", run.path),
        "check_suite_id": run.id, "check_suite_node_id": node_id("CS", run.id),
        "url": api, "html_url": f"{urls.html_repo}/actions/runs/{run.id}", "pull_requests": [],
        "created_at": iso(run.created_at), "updated_at": iso(run.updated_at), "run_started_at": iso(run.created_at),
        "jobs_url": f"{api}/jobs", "logs_url": f"{api}/logs", "check_suite_url": f"{urls.repo}/check-suites/{run.id}",
        "artifacts_url": f"{api}/artifacts", "cancel_url": f"{api}/cancel", "rerun_url": f"{api}/rerun",
        "workflow_url": f"{urls.repo}/actions/workflows/{stable_id('workflow', run.path)}",
        "head_commit": None if head is None else {
            "id": head.sha, "tree_id": head.tree, "message": head.message, "timestamp": iso(head.committer.date),
            "author": {"name": head.author.name, "email": head.author.email},
            "committer": {"name": head.committer.name, "email": head.committer.email},
        },
        "repository": repo_json, "head_repository": repo_json,
    }


def check_run(urls: RepoUrls, run: WorkflowRun) -> Json:
    """check-run, one per workflow run (as GitHub Actions creates them for each job)."""
    completed = run.status == "completed"
    return {
        "id": run.id, "head_sha": run.head_sha, "node_id": node_id("CR", run.id), "external_id": str(run.id),
        "url": f"{urls.repo}/check-runs/{run.id}", "html_url": f"{urls.html_repo}/runs/{run.id}",
        "details_url": f"{urls.html_repo}/actions/runs/{run.id}", "status": run.status,
        "conclusion": run.conclusion, "started_at": iso(run.created_at),
        "completed_at": iso(run.updated_at) if completed else None,
        "output": {"title": None, "summary": None, "text": None, "annotations_count": 0,
                   "annotations_url": f"{urls.repo}/check-runs/{run.id}/annotations"},
        "name": run.name, "check_suite": {"id": run.id}, "app": None, "pull_requests": [],
    }


def combined_status(urls: RepoUrls, sha: str, statuses: list[CommitStatus], repo_json: Json) -> Json:
    """combined-commit-status: failure beats pending beats success, as on GitHub."""
    states = {s.state for s in statuses}
    state = "failure" if states & {"failure", "error"} else "pending" if "pending" in states or not states else "success"
    return {
        "state": state,
        "statuses": [
            {"id": s.id, "node_id": node_id("ST", s.id), "state": s.state, "context": s.context,
             "description": s.description, "target_url": s.target_url, "avatar_url": None,
             "url": f"{urls.repo}/statuses/{sha}", "created_at": iso(s.created_at), "updated_at": iso(s.created_at)}
            for s in statuses
        ],
        "sha": sha, "total_count": len(statuses), "repository": repo_json,
        "commit_url": f"{urls.repo}/commits/{sha}", "url": f"{urls.repo}/commits/{sha}/status",
    }


def error(message: str, status: int, errors: list[Json] | None = None, docs: str | None = None) -> Json:
    """basic-error / validation-error."""
    body: Json = {"message": message, "documentation_url": docs or "https://docs.github.com/rest", "status": str(status)}
    if errors is not None:
        body["errors"] = errors
    return body
