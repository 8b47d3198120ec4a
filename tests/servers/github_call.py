"""The request object and replies shared by the test forge's handlers.

Handlers are plain synchronous functions `Call -> Reply`; `github_api` wraps them with
authentication, ETags, rate-limit headers and request recording.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tests.servers import github_payloads as render
from tests.servers.bare_repo import BareRepo, CommitInfo
from tests.servers.github_payloads import Json, RepoUrls
from tests.servers.github_state import PullRecord

if TYPE_CHECKING:
    from datetime import datetime

    from starlette.datastructures import QueryParams

    from tests.servers.github_api import GitHubServer

_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
MAX_LISTED_COMMITS = 250  # GitHub caps compare and PR commit lists at 250


class ApiError(Exception):
    """An error reply with GitHub's basic-error (or validation-error) body."""

    def __init__(self, status: int, message: str, errors: list[Json] | None = None, docs: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors
        self.docs = docs


@dataclass(frozen=True)
class Reply:
    """What a handler answers; `last_modified` feeds the Last-Modified header."""

    body: Any
    status: int = 200
    links: dict[str, int] = field(default_factory=dict)
    last_modified: datetime | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Call:
    """One authenticated request, as the handlers see it."""

    server: GitHubServer
    login: str
    params: dict[str, Any]
    query: QueryParams
    json: Any

    @property
    def owner(self) -> str:
        return str(self.params["owner"])

    @property
    def name(self) -> str:
        return str(self.params["repo"])

    def repo(self) -> tuple[BareRepo, RepoUrls]:
        """The bare repo the path names, or 404."""
        if not (_NAME.match(self.owner) and _NAME.match(self.name)) or ".." in (self.owner, self.name):
            raise ApiError(404, "Not Found")
        bare = BareRepo(self.server.repo_path(self.owner, self.name))
        if not bare.exists():
            raise ApiError(404, "Not Found")
        return bare, self.server.repo_urls(self.owner, self.name)

    def page(self) -> tuple[int, int]:
        """(page, per_page) from the query, with GitHub's defaults and cap."""
        try:
            page = max(1, int(self.query.get("page", 1)))
            per_page = min(100, max(1, int(self.query.get("per_page", 30))))
        except ValueError as error:
            raise ApiError(422, "Validation Failed") from error
        return page, per_page


def paged(call: Call, items: Sequence[Any]) -> Reply:
    """Slice an in-memory list into one page with Link relations."""
    page, per_page = call.page()
    start = (page - 1) * per_page
    return Reply(list(items[start : start + per_page]), links=page_links(page, per_page, len(items)))


def page_links(page: int, per_page: int, total: int) -> dict[str, int]:
    last = max(1, -(-total // per_page))
    links: dict[str, int] = {}
    if page < last:
        links.update(next=page + 1, last=last)
    if page > 1:
        links.update(first=1, prev=page - 1)
    return links


def commit_json(call: Call, bare: BareRepo, urls: RepoUrls, info: CommitInfo, with_files: bool = False) -> Json:
    files = bare.diff(info.parents[0] if info.parents else None, info.sha) if with_files else None
    return render.commit(urls, info, call.server.logins_by_email(), files)


def resolve_commit(bare: BareRepo, ref: str) -> str:
    sha = bare.resolve(ref)
    if sha is None:
        raise ApiError(422, f"No commit found for SHA: {ref}")
    return sha




def find_pull(call: Call) -> PullRecord:
    """The PR the path's `pull_number` names, or 404."""
    number = int(call.params["pull_number"])
    with call.server.state.lock:
        for pr in call.server.state.pulls_of(call.owner, call.name):
            if pr.number == number:
                return pr
    raise ApiError(404, "Not Found")


def live_shas(bare: BareRepo, pr: PullRecord) -> tuple[str, str]:
    """Head and base of an open PR follow its branches; a closed PR keeps its last ones."""
    if pr.state == "open":
        pr.head_sha = bare.branch_sha(pr.head) or pr.head_sha
        pr.base_sha = bare.branch_sha(pr.base) or pr.base_sha
    return pr.head_sha, pr.base_sha
