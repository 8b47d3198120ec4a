"""GitHub through PyGithub: the only module that talks to the GitHub API.

The client is built once from repos.yaml and passed in; nothing here reads the
environment at import time. Errors come back as ForgeError with GitHub's own message
and whether a retry can help (5xx, timeouts, rate limits) or not (401, 404, 422).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from github import Auth, Github, GithubException
from github.PullRequest import PullRequest as GHPullRequest
from github.Repository import Repository

from bot.config import GitHubSettings
from bot.errors import FaultbotError
from bot.forge import MergeOutcome, PullRequest
from bot.redact import Redactor


class ForgeError(FaultbotError):
    """The forge refused or failed a request."""


def make_client(settings: GitHubSettings, token: str) -> Github:
    """A PyGithub client for github.com or a GitHub Enterprise `api_url`."""
    interval = settings.request_interval.total_seconds()
    return Github(
        base_url=settings.api_url,
        auth=Auth.Token(token),
        seconds_between_requests=interval or None,
        seconds_between_writes=interval or None,
        timeout=15,
        retry=None,
    )


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def _message(exc: GithubException) -> str:
    data: Any = exc.data
    if isinstance(data, dict):
        return str(data.get("message") or exc)
    return str(exc)


def wrap(exc: GithubException, what: str, redactor: Redactor) -> ForgeError:
    """A one-line ForgeError for a PyGithub exception."""
    status = exc.status
    retryable = status in (403, 429) or (isinstance(status, int) and status >= 500)
    hint = " (check the token in github.token_env)" if status == 401 else ""
    return ForgeError(redactor(f"GitHub: {what}: {status} {_message(exc)}{hint}"), retryable=retryable)


class GitHubForge:
    """One team repository on GitHub."""

    def __init__(self, client: Github, full_name: str, redactor: Redactor | None = None) -> None:
        self.client = client
        self.full_name = full_name
        self.redactor = redactor or Redactor()
        self._repo: Repository | None = None

    @property
    def repo(self) -> Repository:
        """The repository object (fetched once)."""
        if self._repo is None:
            try:
                self._repo = self.client.get_repo(self.full_name)
            except GithubException as exc:
                raise wrap(exc, f"get repository {self.full_name}", self.redactor) from None
        return self._repo

    def _pull(self, pr: GHPullRequest) -> PullRequest:
        return PullRequest(
            number=pr.number,
            url=pr.html_url,
            head_branch=pr.head.ref,
            head_sha=pr.head.sha,
            author=pr.user.login if pr.user else "",
            opened_at=_utc(pr.created_at) or datetime.now(timezone.utc),
            merged=bool(pr.merged),
            merged_at=_utc(pr.merged_at),
            merge_sha=pr.merge_commit_sha if pr.merged else None,
            state=pr.state,
        )

    def open_pull_request(self, head: str, base: str, title: str, body: str) -> PullRequest:
        """Open a PR from branch `head` into `base`."""
        try:
            return self._pull(self.repo.create_pull(base=base, head=head, title=title, body=body))
        except GithubException as exc:
            raise wrap(exc, f"open a pull request from {head}", self.redactor) from None

    def find_pull_request(self, head: str) -> PullRequest | None:
        """The newest PR from branch `head`, open or closed."""
        owner = self.full_name.split("/")[0]
        try:
            pulls = list(self.repo.get_pulls(state="all", head=f"{owner}:{head}"))
        except GithubException as exc:
            raise wrap(exc, f"list pull requests from {head}", self.redactor) from None
        pulls = [p for p in pulls if p.head.ref == head]
        return self._pull(max(pulls, key=lambda p: p.number)) if pulls else None

    def get_pull_request(self, number: int) -> PullRequest:
        """One PR by number."""
        try:
            return self._pull(self.repo.get_pull(number))
        except GithubException as exc:
            raise wrap(exc, f"get pull request #{number}", self.redactor) from None

    def merge_pull_request(self, number: int, method: str, sha: str, title: str) -> MergeOutcome:
        """Merge; protection rules or conflicts come back as a refused outcome (405/409)."""
        try:
            pr = self.repo.get_pull(number)
            status = pr.merge(merge_method=method, sha=sha, commit_title=title)
        except GithubException as exc:
            if exc.status in (405, 409):
                return MergeOutcome(False, None, None, _message(exc))
            raise wrap(exc, f"merge pull request #{number}", self.redactor) from None
        if not status.merged:
            return MergeOutcome(False, None, None, status.message)
        merged = self.get_pull_request(number)
        return MergeOutcome(True, status.sha, merged.merged_at, status.message)
