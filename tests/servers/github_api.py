"""A local GitHub REST server for tests, backed by real bare repositories on disk.

PyGithub talks to it with `Github(base_url=server.api_url, auth=Auth.Token(token))`.
It answers like GitHub Enterprise does under `/api/v3`: auth on every request (401 "Bad
credentials"), ETag/304 conditional requests (304s are not charged, as GitHub documents),
per-caller rate limits (`github_ratelimit`), merge/squash/rebase merges and branch
protection (`github_merge`, `branch_protection`), basic-error bodies, and 5xx or hangs on
demand (`outage`).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import uvicorn

from tests.servers import github_payloads as render
from tests.servers.bare_repo import BareRepo, Identity
from tests.servers.branch_protection import BranchProtection
from tests.servers.git_cli import commit_tree_of_directory, init_bare_repo
from tests.servers.git_http import GitHTTPServer
from tests.servers.github_apps import AppRegistry
from tests.servers.github_http import build_app
from tests.servers.github_payloads import Json, RepoUrls
from tests.servers.github_ratelimit import RateLimiter
from tests.servers.github_state import (
    APIRequest,
    CommitStatus,
    ForgeState,
    MergeSettings,
    RecordedResponse,
    WorkflowRun,
)
from tests.servers.outage import Outage

ORG_ADMIN = Identity("Org Admin", "org-admin@example.test")
GITHUB_COMMITTER = Identity("GitHub", "noreply@github.com")
DEFAULT_LOGIN = "faultbot"


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class GitHubServer:
    """The forge: bare repos under `root/<owner>/<name>.git` plus in-memory PRs and CI."""

    def __init__(
        self,
        root: Path,
        token: str | dict[str, str],
        git_http: GitHTTPServer | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.root = root.resolve()
        if git_http is not None and not self.root.is_relative_to(git_http.root):
            raise ValueError(f"git_http serves {git_http.root}, which does not contain {self.root}")
        self.tokens: dict[str, str] = {token: DEFAULT_LOGIN} if isinstance(token, str) else dict(token)
        self.git_http = git_http
        self.clock = clock
        self.state = ForgeState()
        self.apps = AppRegistry()
        self.users: dict[str, Identity] = {}
        self.merge_committer = GITHUB_COMMITTER
        self.limits = RateLimiter(self.now)
        self.outage = Outage()
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        self.port: int = self._socket.getsockname()[1]
        config = uvicorn.Config(
            build_app(self), log_level="warning", access_log=False, lifespan="off", ws="none",
            timeout_graceful_shutdown=2,
        )
        self._uvicorn = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._uvicorn.run, kwargs={"sockets": [self._socket]}, name="github-api", daemon=True
        )

    # -- URLs -------------------------------------------------------------------------
    @property
    def html_url(self) -> str:
        """Base of the `html_url` fields."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        """The base URL to give PyGithub (GitHub Enterprise style)."""
        return f"{self.html_url}/api/v3"

    def repo_path(self, owner: str, name: str) -> Path:
        """Where the bare repo of `owner/name` lives."""
        return self.root / owner / f"{name}.git"

    def repo_urls(self, owner: str, name: str) -> RepoUrls:
        """URLs of one repo; clone_url is the smart-HTTP URL when a git server is attached."""
        path = self.repo_path(owner, name)
        clone = self.git_http.url_for_path(path) if self.git_http else path.as_uri()
        return RepoUrls(self.api_url, self.html_url, owner, name, clone)

    # -- lifecycle --------------------------------------------------------------------
    def start(self) -> None:
        """Serve in a background thread; returns once the socket accepts requests."""
        self._thread.start()
        for _ in range(500):
            if self._uvicorn.started or not self._thread.is_alive():
                break
            threading.Event().wait(0.01)
        if not self._uvicorn.started:
            raise RuntimeError("the test GitHub server did not start")

    def stop(self) -> None:
        """Shut down and join the server thread; safe to call twice."""
        self.outage.clear()
        self._uvicorn.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self._socket.close()

    # -- test hooks -------------------------------------------------------------------
    def create_repo(self, owner: str, name: str, from_dir: Path | None = None, default_branch: str = "main") -> Path:
        """Make a bare repo; with `from_dir`, seed it with one commit by "Org Admin"."""
        path = init_bare_repo(self.repo_path(owner, name), default_branch)
        if from_dir is not None:
            commit_tree_of_directory(path, from_dir, default_branch, "Initial commit", (ORG_ADMIN.name, ORG_ADMIN.email))
        with self.state.lock:
            self.state.created[(owner, name)] = self.now()
        return path

    def protect(self, owner: str, repo: str, branch: str, rule: BranchProtection | None = None) -> None:
        """Protect `branch` (default rule: changes only through a pull request).

        API merges then meet the rule's required checks, and, with a git server attached,
        direct pushes are refused with GitHub's GH006 messages.
        """
        rule = rule or BranchProtection()
        with self.state.lock:
            self.state.protection[(owner, repo, branch)] = rule
        if self.git_http is not None:
            self.git_http.protect(self._git_name(owner, repo), branch, rule)

    def unprotect(self, owner: str, repo: str, branch: str) -> None:
        """Lift `protect`."""
        with self.state.lock:
            self.state.protection.pop((owner, repo, branch), None)
        if self.git_http is not None:
            self.git_http.unprotect(self._git_name(owner, repo), branch)

    def _git_name(self, owner: str, repo: str) -> str:
        assert self.git_http is not None
        return self.repo_path(owner, repo).relative_to(self.git_http.root).as_posix()

    def set_merge_methods(self, owner: str, repo: str, merge: bool = True, squash: bool = True, rebase: bool = True) -> None:
        """Enable or disable merge commits, squash and rebase merges (GitHub's allow_*_merge)."""
        with self.state.lock:
            self.state.merge_settings[(owner, repo)] = MergeSettings(merge, squash, rebase)

    def register_app(self, app_id: int, public_key_pem: str, installation_id: int, slug: str = "faultbot-app") -> None:
        """Declare a GitHub App installation; its JWTs (RS256, `iss` = app_id) can mint tokens."""
        self.apps.register(app_id, public_key_pem, installation_id, slug)

    def accept_token(self, token: str, login: str) -> None:
        """Make `token` act as `login` for the API and, if a git server is attached, for git."""
        with self.state.lock:
            self.tokens[token] = login
        if self.git_http is not None:
            self.git_http.add_token(token, login)

    def add_user(self, login: str, name: str | None = None, email: str | None = None) -> Identity:
        """Declare a user: their merges are authored as them and their commit email maps to them."""
        identity = Identity(name or login, email or f"{login}@users.noreply.example.test")
        with self.state.lock:
            self.users[login] = identity
        return identity

    def add_workflow_run(
        self,
        owner: str,
        repo: str,
        head_sha: str,
        status: str = "completed",
        conclusion: str | None = "success",
        *,
        name: str = "CI",
        head_branch: str | None = None,
        event: str = "push",
        path: str = ".github/workflows/ci.yml",
    ) -> WorkflowRun:
        """Declare an Actions run (also listed as a check run of `head_sha`)."""
        now = self.now()
        with self.state.lock:
            number = 1 + sum(1 for r in self.state.runs if (r.owner, r.repo) == (owner, repo))
            run = WorkflowRun(self.state.new_id(), owner, repo, head_sha, head_branch, status, conclusion,
                              name, path, event, number, now, now)
            self.state.runs.append(run)
        return run

    def update_workflow_run(self, run: WorkflowRun, status: str, conclusion: str | None) -> None:
        """Move a run along, e.g. from in_progress to completed/failure."""
        with self.state.lock:
            run.status, run.conclusion, run.updated_at = status, conclusion, self.now()

    def add_commit_status(self, owner: str, repo: str, sha: str, state: str, context: str = "ci",
                          description: str | None = None, target_url: str | None = None) -> CommitStatus:
        """Declare a commit status (served by the combined-status endpoint)."""
        with self.state.lock:
            status = CommitStatus(self.state.new_id(), owner, repo, sha, state, context, description, target_url, self.now())
            self.state.statuses.append(status)
        return status

    @property
    def requests(self) -> list[APIRequest]:
        """Every answered request, oldest first."""
        with self.state.lock:
            return list(self.state.requests)

    @property
    def responses(self) -> list[RecordedResponse]:
        """Every JSON body sent, keyed by OpenAPI operation, for contract checks."""
        with self.state.lock:
            return list(self.state.responses)

    # -- used by the handlers ---------------------------------------------------------
    def now(self) -> datetime:
        """Server time, from the injectable clock."""
        return self.clock()

    def identity_of(self, login: str) -> Identity:
        """The git identity a login merges as."""
        with self.state.lock:
            return self.users.get(login) or Identity(login, f"{login}@users.noreply.example.test")

    def logins_by_email(self) -> dict[str, str]:
        """Commit email → login, so commit `author` objects name known users."""
        with self.state.lock:
            return {identity.email.lower(): login for login, identity in self.users.items()}

    def protection(self, owner: str, repo: str, branch: str) -> BranchProtection | None:
        """The rule protecting `branch`, or None."""
        with self.state.lock:
            return self.state.protection.get((owner, repo, branch))

    def merge_settings(self, owner: str, repo: str) -> MergeSettings:
        """Which merge methods the repo allows."""
        with self.state.lock:
            return self.state.merge_settings.get((owner, repo), MergeSettings())

    def repo_json(self, bare: BareRepo, urls: RepoUrls, full: bool) -> Json:
        """repository / full-repository for one bare repo, read fresh."""
        with self.state.lock:
            created = self.state.created.get((urls.owner, urls.name))
        if created is None:
            created = datetime.fromtimestamp(bare.path.stat().st_mtime, timezone.utc)
        settings = self.merge_settings(urls.owner, urls.name)
        methods = (settings.merge, settings.squash, settings.rebase)
        return render.repository(urls, bare.default_branch(), created, bare.last_commit_time(), full, methods)

    def rate_limit_numbers(self, login: str | None) -> dict[str, int]:
        """The core rate-limit numbers GitHub reports to `login` in headers and /rate_limit."""
        return self.limits.numbers(login)

    def exhaust_rate_limit(self, reset_in: timedelta, status: int = 403) -> None:
        """Test hook: every API call gets GitHub's "rate limit exceeded" (403 or 429) until the reset."""
        self.limits.exhaust(reset_in, status)

    def restore_rate_limit(self) -> None:
        """Test hook: the window reset early (also lifts a secondary limit)."""
        self.limits.restore()

    def login_for(self, authorization: str | None) -> str | None:
        """The login a token authenticates as, or None for missing or wrong credentials."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() not in ("token", "bearer"):
            return None
        with self.state.lock:
            return self.tokens.get(token.strip())


@contextmanager
def serve_github(
    root: Path,
    token: str | dict[str, str],
    git_http: GitHTTPServer | None = None,
    clock: Callable[[], datetime] = _utcnow,
) -> Iterator[GitHubServer]:
    """Run a GitHub REST server over the bare repos under `root` until the block exits.

    `token` is one accepted token (acting as login "faultbot") or a token → login map.
    """
    server = GitHubServer(root, token, git_http, clock)
    server.start()
    try:
        yield server
    finally:
        server.stop()
