"""GitHub through PyGithub: the only module that talks to the GitHub API.

The client is built once from repos.yaml and passed in; nothing here reads the
environment at import time. Errors come back as ForgeError with GitHub's own message
and whether a retry can help (5xx, timeouts, rate limits) or not (401, 404, 422).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

import jwt
import requests
from github import Auth, Github, GithubException
from github.PullRequest import PullRequest as GHPullRequest
from github.Repository import Repository

from bot.base.redact import Redactor
from bot.config import GitHubApp, GitHubSettings
from bot.errors import FaultbotError
from bot.forge import CIRun, MergeOutcome, PullRequest, ci_run
from bot.game.clock import Clock, SystemClock, as_utc


class ForgeError(FaultbotError):
    """The forge refused or failed a request."""


def github_auth(settings: GitHubSettings, environ: Mapping[str, str]) -> tuple[Auth.Auth, Callable[[], str]]:
    """The API auth from repos.yaml and the env, and a function giving the current token for git.

    A personal token is read from `token_env`; a GitHub App (`github.app`) signs JWTs with
    the PEM in `private_key_env` and trades them for installation tokens, which PyGithub
    renews before they expire, so ask the function again rather than keeping its answer.
    """
    if settings.app is None:
        token = environ.get(settings.token_env)
        if not token:
            raise FaultbotError(
                f"environment variable {settings.token_env} is not set (github.token_env); export it"
            )
        return Auth.Token(token), lambda: token
    return _app_auth(settings, settings.app, environ)


def _app_auth(
    settings: GitHubSettings, app: GitHubApp, environ: Mapping[str, str]
) -> tuple[Auth.Auth, Callable[[], str]]:
    key_env = app.private_key_env
    private_key = environ.get(key_env)
    if not private_key:
        raise FaultbotError(
            f"environment variable {key_env} is not set (github.app.private_key_env); "
            f"export the GitHub App's private key (PEM) in it"
        )
    app_auth = Auth.AppAuth(app.app_id, private_key)
    try:
        app_auth.create_jwt()  # a bad key fails here, once, rather than inside a request
    except (ValueError, TypeError, jwt.PyJWTError):
        raise FaultbotError(
            f"environment variable {key_env} does not hold an RSA private key in PEM form "
            f"(github.app.private_key_env); export the key file's contents"
        ) from None
    installation = app_auth.get_installation_auth(app.installation_id)

    def current_token() -> str:
        if installation.requester is None:
            make_client(settings, installation)  # binds the auth to a requester for this api_url
        try:
            return installation.token
        except GithubException as exc:
            hint = " (check github.app: app_id, installation_id and the key)" if exc.status in (401, 404) else ""
            raise ForgeError(
                f"GitHub: get an installation token for app {app.app_id}, installation "
                f"{app.installation_id}: {exc.status} {_message(exc)}{hint}",
                retryable=exc.status in (403, 429) or exc.status >= 500,
            ) from None
        except requests.RequestException as exc:
            raise ForgeError(
                f"GitHub: get an installation token from {settings.api_url}: {type(exc).__name__}",
                retryable=True,
            ) from None

    return installation, current_token


def make_client(settings: GitHubSettings, auth: Auth.Auth, timeout: float = 15.0) -> Github:
    """A PyGithub client for github.com or a GitHub Enterprise `api_url` (`timeout`: per request, seconds)."""
    interval = settings.request_interval.total_seconds()
    return Github(
        base_url=settings.api_url,
        auth=auth,
        seconds_between_requests=interval or None,
        seconds_between_writes=interval or None,
        timeout=max(1, round(timeout)),
        retry=None,
    )


def _utc(moment: datetime | None) -> datetime | None:
    return as_utc(moment) if moment is not None else None


def _message(exc: GithubException) -> str:
    data: Any = exc.data
    if isinstance(data, dict):
        return str(data.get("message") or exc)
    return str(exc)


def wrap(exc: GithubException, what: str, redactor: Redactor) -> ForgeError:
    """A one-line ForgeError for a PyGithub exception."""
    status = exc.status
    retryable = status in (403, 429) or (isinstance(status, int) and status >= 500)
    hint = " (check the token in github.token_env, or github.app and its key)" if status == 401 else ""
    return ForgeError(redactor(f"GitHub: {what}: {status} {_message(exc)}{hint}"), retryable=retryable)


def rate_limit_reset(exc: GithubException, now: datetime) -> datetime | None:
    """When GitHub says to come back: Retry-After (counted from `now`), or X-RateLimit-Reset once Remaining is 0."""
    headers = {k.lower(): v for k, v in (exc.headers or {}).items()}
    if exc.status not in (403, 429):
        return None
    if headers.get("retry-after", "").isdigit():
        return now + timedelta(seconds=int(headers["retry-after"]))
    if headers.get("x-ratelimit-remaining") == "0" and headers.get("x-ratelimit-reset", "").isdigit():
        return datetime.fromtimestamp(int(headers["x-ratelimit-reset"]), timezone.utc)
    return None


T = TypeVar("T")
_REMEMBERED_ANSWERS = 64  # commits whose last CI answer is kept for conditional requests


class GitHubForge:
    """One team repository on GitHub.

    Rate limits are honoured, not hammered: once GitHub answers 403/429 with a reset time,
    every call before that time fails at once (retryable) without a request, and the
    daemon's next poll after the reset simply succeeds.
    """

    def __init__(self, client: Github, full_name: str, redactor: Redactor | None = None,
                 clock: Clock | None = None, guard: Callable[[], None] | None = None) -> None:
        self.client = client
        self.full_name = full_name
        self.redactor = redactor or Redactor()
        self.clock = clock or SystemClock()
        # Called before every write (open, merge); raises to stop it: a daemon that lost its
        # leadership lease must not act on the team's repository.
        self.guard = guard or (lambda: None)
        self.blocked_until: datetime | None = None
        self._repo: Repository | None = None
        self._runs: dict[str, tuple[str, list[CIRun]]] = {}  # sha -> (ETag, runs) of GitHub's last answer

    def _call(self, what: str, action: Callable[[], T]) -> T:
        """Run one API interaction; GitHub's errors become one-line ForgeErrors."""
        if self.blocked_until is not None:
            if self.clock.now() < self.blocked_until:
                raise ForgeError(f"GitHub: {what}: rate limited until {self.blocked_until:%H:%M:%S}Z; not asking",
                                 retryable=True)
            self.blocked_until = None
        try:
            return action()
        except GithubException as exc:
            self.blocked_until = rate_limit_reset(exc, self.clock.now()) or self.blocked_until
            raise wrap(exc, what, self.redactor) from None
        except requests.RequestException as exc:  # unreachable, timeout, TLS: try again later
            raise ForgeError(self.redactor(f"GitHub: {what}: {exc.__class__.__name__}: {exc}"), retryable=True) from None

    @property
    def repo(self) -> Repository:
        """The repository object: lazy, so a call costs only its own request, not a fetch of the repo first."""
        if self._repo is None:
            self._repo = self.client.withLazy(True).get_repo(self.full_name)
        return self._repo

    def _pull(self, pr: GHPullRequest) -> PullRequest:
        return PullRequest(
            number=pr.number,
            url=pr.html_url,
            head_branch=pr.head.ref,
            head_sha=pr.head.sha,
            author=pr.user.login if pr.user else "",
            opened_at=_utc(pr.created_at),  # GitHub's own time, or unknown: never made up here
            merged=bool(pr.merged),
            merged_at=_utc(pr.merged_at),
            merge_sha=pr.merge_commit_sha if pr.merged else None,
            state=pr.state,
        )

    def open_pull_request(self, head: str, base: str, title: str, body: str) -> PullRequest:
        """Open a PR from branch `head` into `base`."""
        self.guard()
        return self._call(f"open a pull request from {head}",
                          lambda: self._pull(self.repo.create_pull(base=base, head=head, title=title, body=body)))

    def find_pull_request(self, head: str) -> PullRequest | None:
        """The newest PR from branch `head`, open or closed."""
        owner = self.full_name.split("/")[0]
        pulls = self._call(f"list pull requests from {head}",
                           lambda: [p for p in self.repo.get_pulls(state="all", head=f"{owner}:{head}") if p.head.ref == head])
        return self._pull(max(pulls, key=lambda p: p.number)) if pulls else None

    def get_pull_request(self, number: int) -> PullRequest:
        """One PR by number."""
        return self._call(f"get pull request #{number}", lambda: self._pull(self.repo.get_pull(number)))

    def pulls_for_commit(self, sha: str) -> list[PullRequest]:
        """Pull requests GitHub associates with a commit (the PR that merged it, if any)."""
        return self._call(f"list pull requests of {sha[:12]}",
                          lambda: [self._pull(p) for p in self.repo.get_commit(sha).get_pulls()])

    def pulls_opened_since(self, since: datetime) -> list[PullRequest]:
        """PRs opened at or after `since` (newest first), for the team's first response."""
        since = since.replace(microsecond=0)  # GitHub's timestamps have whole seconds

        def newest() -> list[PullRequest]:
            found = []
            for pr in self.repo.get_pulls(state="all", sort="created", direction="desc"):
                opened = _utc(pr.created_at)
                if opened is not None and opened < since:
                    break
                found.append(self._pull(pr))
            return found

        return self._call("list pull requests", newest)

    def workflow_runs(self, sha: str) -> list[CIRun]:
        """GitHub Actions runs for a commit (newest first), so the timeline shows CI too.

        Asked again with the last answer's ETag: while nothing changed GitHub answers 304,
        which it does not count against the rate limit, and the remembered runs stand.
        """
        known = self._runs.get(sha)
        headers = {"If-None-Match": known[0]} if known else {}

        def ask() -> tuple[dict[str, Any], Any]:
            return self.client.requester.requestJsonAndCheck(
                "GET", f"/repos/{self.full_name}/actions/runs", parameters={"head_sha": sha}, headers=headers)

        answer, data = self._call(f"list workflow runs of {sha[:12]}", ask)
        if data is None and known is not None:  # 304 Not Modified: no body
            return known[1]
        runs = [ci_run(run) for run in (data or {}).get("workflow_runs", [])]
        etag = answer.get("etag")
        if etag:
            self._runs.pop(sha, None)
            self._runs[sha] = (etag, runs)
            while len(self._runs) > _REMEMBERED_ANSWERS:  # the oldest commits' answers go first
                del self._runs[next(iter(self._runs))]
        return runs

    def merge_pull_request(self, number: int, method: str, sha: str, title: str) -> MergeOutcome:
        """Merge; protection rules or conflicts come back as a refused outcome (405/409)."""

        def merge() -> MergeOutcome:
            try:
                status = self.repo.get_pull(number).merge(merge_method=method, sha=sha, commit_title=title)
            except GithubException as exc:
                if exc.status in (405, 409):
                    return MergeOutcome(False, None, None, _message(exc))
                raise
            return MergeOutcome(status.merged, status.sha if status.merged else None, None, status.message)

        self.guard()
        outcome = self._call(f"merge pull request #{number}", merge)
        if not outcome.merged:
            return outcome
        merged = self.get_pull_request(number)
        return MergeOutcome(True, outcome.sha, merged.merged_at, outcome.message)
