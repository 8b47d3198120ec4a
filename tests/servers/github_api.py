"""A local GitHub REST server for tests, backed by real bare repositories on disk.

PyGithub talks to it with `Github(base_url=server.api_url, auth=Auth.Token(token))`.
It answers like GitHub Enterprise does under `/api/v3`: auth on every request (401 "Bad
credentials"), ETag/304 conditional requests (304s are not charged, as GitHub documents),
per-caller rate limits (`github_ratelimit`), merge/squash/rebase merges and branch
protection (`github_merge`, `branch_protection`), basic-error bodies, and 5xx or hangs on
demand (`outage`).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from tests.servers import github_payloads as render
from tests.servers.bare_repo import BareRepo, Identity
from tests.servers.branch_protection import BranchProtection
from tests.servers.git_cli import commit_tree_of_directory, init_bare_repo
from tests.servers.git_http import GitHTTPServer
from tests.servers.github_apps import JWT_REFUSED, AppRegistry
from tests.servers.github_call import ApiError, Call, Reply
from tests.servers.github_payloads import Json, RepoUrls
from tests.servers.github_ratelimit import RateLimiter
from tests.servers.github_routes import ROUTES, Handler, openapi_path
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
            _build_app(self), log_level="warning", access_log=False, lifespan="off", ws="none",
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


def _build_app(server: GitHubServer) -> Starlette:
    routes = [
        Route(path, _endpoint(server, method, openapi_path(path), handler), methods=[method])
        for method, path, handler in ROUTES
    ]

    async def unknown_route(request: Request, error: Exception) -> Response:
        # GitHub answers JSON even for paths it does not know; the log shows what a bot
        # asked for that this server does not implement.
        status = getattr(error, "status_code", 404)
        message = "Not Found" if status == 404 else "Method Not Allowed"
        with server.state.lock:
            server.state.requests.append(APIRequest(request.method, request.url.path, request.url.query, status, None))
        return Response(json.dumps(render.error(message, status)), status, media_type="application/json; charset=utf-8")

    return Starlette(
        routes=[Mount("/api/v3", routes=routes)], exception_handlers={404: unknown_route, 405: unknown_route}
    )


def _endpoint(server: GitHubServer, method: str, operation: str, handler: Handler) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        # Handlers run on the event loop thread on purpose: requests are served one at a
        # time, so PR merges and ref updates never race each other. Hangs await instead.
        raw = await request.body()
        request_id = _request_id()
        # The /app endpoints take the app's JWT, never an installation or personal token.
        as_app = operation.startswith("/app/")
        authorization = request.headers.get("authorization")
        login = server.apps.app_login(authorization) if as_app else server.login_for(authorization)
        # Like GitHub, /rate_limit itself is free; so are answers the server failed to give.
        counted = login is not None and operation != "/rate_limit"
        trouble = server.outage.take(f"{method} {request.url.path}")
        if trouble is not None and trouble.kind == "hang":
            await server.outage.wait_async(trouble)
        refusal = server.limits.refusal(login, request_id) if counted else None
        if trouble is not None and trouble.kind == "error":
            counted = False
            reply = Reply(render.error("Server Error", trouble.status), status=trouble.status)
        elif login is None:
            reply = Reply(render.error(JWT_REFUSED if as_app else "Bad credentials", 401), status=401)
        elif refusal is not None:
            counted = False
            reply = Reply(render.error(refusal.message, refusal.status, docs=refusal.documentation_url),
                          status=refusal.status, headers=refusal.headers)
        else:
            try:
                body = json.loads(raw) if raw else None
                reply = handler(Call(server, login, dict(request.path_params), request.query_params, body))
            except ApiError as error:
                reply = Reply(render.error(error.message, error.status, error.errors, error.docs), status=error.status)
            except json.JSONDecodeError:
                reply = Reply(render.error("Problems parsing JSON", 400), status=400)
        response = _respond(server, request, reply, login, counted, request_id)
        with server.state.lock:
            server.state.requests.append(
                APIRequest(method, request.url.path, request.url.query, response.status_code, login)
            )
            if response.status_code != 304:
                server.state.responses.append(RecordedResponse(method, operation, reply.status, reply.body))
        return response

    return endpoint


def _request_id() -> str:
    """An id shaped like GitHub's X-GitHub-Request-Id (e.g. 1C45:12F767:6C7E73:D8C627:6814705C)."""
    return ":".join(secrets.token_hex(size).upper() for size in (2, 3, 3, 3, 4))


def _respond(
    server: GitHubServer, request: Request, reply: Reply, login: str | None, counted: bool, request_id: str
) -> Response:
    payload = json.dumps(reply.body, separators=(",", ":")).encode()
    headers = {
        "X-GitHub-Request-Id": request_id,
        "X-GitHub-Media-Type": "github.v3; format=json",
        "X-RateLimit-Resource": "core",
        **reply.headers,
    }
    if reply.links:
        headers["Link"] = ", ".join(
            f'<{_page_url(server, request, page)}>; rel="{rel}"' for rel, page in reply.links.items()
        )
    not_modified = False
    if request.method == "GET" and reply.status == 200:
        etag = '"' + hashlib.sha256(payload).hexdigest()[:40] + '"'
        headers["ETag"] = etag
        headers["Cache-Control"] = "private, max-age=60, s-maxage=60"
        headers["Vary"] = "Accept, Authorization, Cookie, X-GitHub-OTP"
        if reply.last_modified is not None:
            headers["Last-Modified"] = format_datetime(reply.last_modified.astimezone(timezone.utc), usegmt=True)
        not_modified = _is_not_modified(request, etag, reply.last_modified)
    if counted and not not_modified:
        # GitHub does not charge 304 answers against the rate limit.
        server.limits.charge(login)
    numbers = server.rate_limit_numbers(login)
    headers.update({f"X-RateLimit-{key.title()}": str(value) for key, value in numbers.items()})
    if reply.status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="GitHub"'
    if not_modified:
        return Response(status_code=304, headers=headers)
    return Response(payload, status_code=reply.status, headers=headers, media_type="application/json; charset=utf-8")


def _is_not_modified(request: Request, etag: str, last_modified: datetime | None) -> bool:
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in tags or etag in tags
    since = request.headers.get("if-modified-since")
    if since and last_modified is not None:
        try:
            return last_modified.replace(microsecond=0) <= parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
    return False


def _page_url(server: GitHubServer, request: Request, page: int) -> str:
    query = dict(request.query_params)
    query["page"] = str(page)
    return f"{server.html_url}{request.url.path}?{urlencode(query)}"


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
