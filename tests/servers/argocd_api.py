"""A local ArgoCD API server for tests, following argo-cd's published swagger (subset).

It serves what faultbot reads — `GET /api/v1/applications[/{name}]`, `GET /api/version`,
and the session endpoints — with Bearer-token (or `argocd.token` cookie) auth. Tests
drive it the way ArgoCD's controller would move: `add_app`, `sync` (appends to
`status.history` and truncates it to revisionHistoryLimit, as persistRevisionHistory
does), `fail_sync` (operationState Failed; like argo-cd, only a *successful* sync adds a
history entry), `set_health`, `out_of_sync`; and they break it the way networks do:
`fail_next`, `rate_limit`, `down`/`up` (a real closed port, so clients see ECONNREFUSED),
and `outage` (5xx until cleared, hangs; see `tests.servers.outage`).
Every JSON answer is recorded with its swagger operation for the contract test.

Auth: every application and session operation needs a token; like argo-cd, `/api/version`
answers anonymous callers too (with the version only) and `userinfo` says `loggedIn: false`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.web.server import BackgroundServer
from tests.servers import argocd_render as render
from tests.servers.argocd_render import AppRecord, Json
from tests.servers.outage import Outage

DEFAULT_TOKEN = "argocd-test-token-0123456789"
ADMIN_USER = "admin"
ADMIN_PASSWORD = "argocd-admin-password"
_GRPC_CODE = {400: 3, 401: 16, 403: 7, 404: 5, 429: 8, 500: 13, 501: 12, 502: 14, 503: 14, 504: 4}


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class RecordedResponse:
    """One JSON answer, keyed by the swagger operation it answers."""

    method: str
    operation: str
    status: int
    body: Any


@dataclass(frozen=True)
class Reply:
    status: int
    body: Json
    headers: Mapping[str, str] | None = None


class ArgoCDServer:
    """Applications in memory behind ArgoCD's REST shapes; see the module docstring."""

    def __init__(
        self,
        tokens: Iterable[str] = (DEFAULT_TOKEN,),
        users: Mapping[str, str] | None = None,
        clock: Callable[[], datetime] = _utcnow,
        host: str = "127.0.0.1",
    ) -> None:
        self.clock = clock
        self.host = host
        self._lock = threading.RLock()
        self._tokens: dict[str, str] = {token: ADMIN_USER for token in tokens}
        self._users = dict(users if users is not None else {ADMIN_USER: ADMIN_PASSWORD})
        self._apps: dict[str, AppRecord] = {}
        self._failures: list[int] = []
        self._rate_limited = 0
        self._retry_after = 0
        self._requests: list[tuple[str, str]] = []
        self._responses: list[RecordedResponse] = []
        self._secret = uuid.uuid4().bytes
        self.outage = Outage()
        self._app = _build_app(self)
        self._web = BackgroundServer(self._app, host, 0)
        self.port = self._web.port

    # -- lifecycle --------------------------------------------------------------------
    @property
    def url(self) -> str:
        """Base URL to give the client (ArgoCD's `argocd.url`)."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> ArgoCDServer:
        self._web.start()
        return self

    def stop(self) -> None:
        self.outage.clear()
        self._web.stop()

    def down(self) -> None:
        """Close the port: connections are refused until `up()`."""
        self._web.stop()

    def up(self) -> None:
        """Listen again on the same port, with all state kept."""
        self._web = BackgroundServer(self._app, self.host, self.port).start()

    # -- how ArgoCD's controller moves ----------------------------------------------------
    def add_app(
        self,
        name: str,
        repo_url: str | Sequence[str],
        path: str = "k8s",
        target: str = "main",
        *,
        project: str = "default",
        namespace: str = "argocd",
        revision_history_limit: int | None = None,
        recurse: bool = False,
    ) -> None:
        """An Application tracking `target` of `repo_url` (several URLs: a multi-source app);
        `recurse` reads a plain folder with its subfolders (`source.directory.recurse`)."""
        urls = [repo_url] if isinstance(repo_url, str) else list(repo_url)
        sources: list[Json] = [{"repoURL": url, "path": path, "targetRevision": target} for url in urls]
        if recurse:
            for source in sources:
                source["directory"] = {"recurse": True}
        with self._lock:
            self._apps[name] = AppRecord(
                name=name, namespace=namespace, project=project, uid=str(uuid.uuid4()),
                created_at=self.clock(), sources=sources, multi_source=not isinstance(repo_url, str),
                history_limit=revision_history_limit,
            )

    def sync(
        self,
        name: str,
        revision: str | Sequence[str],
        deployed_at: datetime | None = None,
        *,
        started_at: datetime | None = None,
        health: str | None = "Healthy",
    ) -> int:
        """A successful automated sync to `revision`; returns the new history entry's id.

        Like argo-cd's persistRevisionHistory: id = last id + 1 (0 for the first),
        append, then keep only the newest revisionHistoryLimit entries.
        """
        revisions = [revision] if isinstance(revision, str) else list(revision)
        with self._lock:
            app = self._apps[name]
            deployed = deployed_at or self.clock()
            started = started_at or deployed
            entry_id = app.history[-1]["id"] + 1 if app.history else 0
            app.history.append(render.history_entry(app, entry_id, revisions, started, deployed))
            limit = app.effective_history_limit
            app.history = app.history[-limit:] if limit > 0 else []  # RevisionHistories.Trunc
            app.sync_status = "Synced"
            app.sync_revisions = revisions
            app.operation_state = render.operation_state(
                app, revisions, "Succeeded", "successfully synced (all tasks run)", started, deployed
            )
            app.reconciled_at = deployed
            if health is not None:
                self._set_health(app, health, deployed)
            app.resource_version += 1
            return entry_id

    def fail_sync(self, name: str, revision: str, message: str = "one or more objects failed to apply") -> None:
        """A sync that failed: operationState Failed, OutOfSync, and no history entry."""
        with self._lock:
            app = self._apps[name]
            now = self.clock()
            app.sync_status = "OutOfSync"
            app.sync_revisions = [revision]
            app.operation_state = render.operation_state(app, [revision], "Failed", message, now, now)
            app.resource_version += 1

    def out_of_sync(self, name: str, revision: str) -> None:
        """Git moved to `revision` and ArgoCD noticed, but has not synced yet."""
        with self._lock:
            app = self._apps[name]
            app.sync_status = "OutOfSync"
            app.sync_revisions = [revision]
            app.reconciled_at = self.clock()
            app.resource_version += 1

    def set_health(self, name: str, status: str) -> None:
        """Healthy, Degraded, Progressing, Suspended, Missing or Unknown."""
        with self._lock:
            app = self._apps[name]
            self._set_health(app, status, self.clock())
            app.resource_version += 1

    def _set_health(self, app: AppRecord, status: str, when: datetime) -> None:
        if status != app.health:
            app.health_changed_at = when
        app.health = status

    # -- how networks break ---------------------------------------------------------------
    def fail_next(self, n: int, status: int = 503) -> None:
        """The next `n` requests get `status` with a runtimeError body."""
        with self._lock:
            self._failures.extend([status] * n)

    def rate_limit(self, n: int, retry_after: int) -> None:
        """The next `n` requests get 429 with `Retry-After: retry_after`."""
        with self._lock:
            self._rate_limited, self._retry_after = n, retry_after

    # -- what happened ------------------------------------------------------------------
    @property
    def requests(self) -> list[tuple[str, str]]:
        """(method, path) of every request received, oldest first."""
        with self._lock:
            return list(self._requests)

    @property
    def responses(self) -> list[RecordedResponse]:
        """Every JSON body sent, keyed by swagger operation, for contract checks."""
        with self._lock:
            return list(self._responses)

    # -- used by the handlers ---------------------------------------------------------------
    def injected_failure(self) -> Reply | None:
        with self._lock:
            if self._rate_limited:
                self._rate_limited -= 1
                message = "too many requests, try again later"
                return Reply(429, render.runtime_error(8, message), {"Retry-After": str(self._retry_after)})
            if self._failures:
                status = self._failures.pop(0)
                return Reply(status, render.runtime_error(_GRPC_CODE.get(status, 2), "upstream unavailable"))
        return None

    def user_for(self, request: Request) -> str | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            token = request.cookies.get("argocd.token", "")
        with self._lock:
            return self._tokens.get(token.strip())

    def login(self, body: Any) -> str | None:
        """A new session token for a valid username/password (or an existing token)."""
        if not isinstance(body, dict):
            return None
        with self._lock:
            if body.get("token") in self._tokens:
                return str(body["token"])
            username = body.get("username")
            if not username or self._users.get(username) != body.get("password"):
                return None
            token = self._jwt(str(username))
            self._tokens[token] = str(username)
            return token

    def logout(self, token: str) -> None:
        with self._lock:
            self._tokens.pop(token, None)

    def _jwt(self, subject: str) -> str:
        def part(value: Json) -> str:
            return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

        now = int(self.clock().timestamp())
        head = f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part({'iss': 'argocd', 'sub': subject, 'iat': now, 'exp': now + 86400, 'jti': str(uuid.uuid4())})}"
        signature = hmac.new(self._secret, head.encode(), hashlib.sha256).digest()
        return f"{head}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"

    def apps(self, query: Mapping[str, Sequence[str]]) -> list[Json]:
        with self._lock:
            records = list(self._apps.values())
            wanted = {p for key in ("projects", "project") for p in query.get(key, [])}
            return [
                render.application(app)
                for app in records
                if (not query.get("name") or app.name == query["name"][0])
                and (not query.get("repo") or any(s["repoURL"] == query["repo"][0] for s in app.sources))
                and (not wanted or app.project in wanted)
                and (not query.get("appNamespace") or app.namespace == query["appNamespace"][0])
            ]

    def app(self, name: str, namespace: str | None) -> Json | None:
        with self._lock:
            app = self._apps.get(name)
            if app is None or (namespace and app.namespace != namespace):
                return None
            return render.application(app)

    def resource_version(self) -> str:
        with self._lock:
            return str(sum(app.resource_version for app in self._apps.values()))

    def record(self, request: Request, operation: str, reply: Reply) -> None:
        with self._lock:
            self._requests.append((request.method, request.url.path))
            self._responses.append(RecordedResponse(request.method, operation, reply.status, reply.body))


# -- HTTP -------------------------------------------------------------------------------
Handler = Callable[[ArgoCDServer, Request, str | None, Any], Reply]
"""(server, request, the authenticated user or None, the parsed JSON body or None) -> Reply"""


def _unauthenticated() -> Reply:
    return Reply(401, render.runtime_error(16, "no session information"))


def _version(server: ArgoCDServer, request: Request, user: str | None, body: Any) -> Reply:
    return Reply(200, render.version_message(full=user is not None))


def _list(server: ArgoCDServer, request: Request, user: str | None, body: Any) -> Reply:
    if user is None:
        return _unauthenticated()
    query = {key: request.query_params.getlist(key) for key in request.query_params}
    return Reply(200, {"metadata": {"resourceVersion": server.resource_version()}, "items": server.apps(query)})


def _get(server: ArgoCDServer, request: Request, user: str | None, body: Any) -> Reply:
    if user is None:
        return _unauthenticated()
    name = request.path_params["name"]
    body = server.app(name, request.query_params.get("appNamespace"))
    if body is None:
        return Reply(404, render.runtime_error(5, f'applications.argoproj.io "{name}" not found'))
    return Reply(200, body)


def _login(server: ArgoCDServer, request: Request, user: str | None, body: Any) -> Reply:
    token = server.login(body)
    if token is None:
        return Reply(401, render.runtime_error(16, "Invalid username or password"))
    return Reply(200, {"token": token})


async def _json_body(request: Request) -> Any:
    if request.method != "POST":
        return None
    try:
        return json.loads(await request.body() or b"null")
    except json.JSONDecodeError:
        return None


def _userinfo(server: ArgoCDServer, request: Request, user: str | None, body: Any) -> Reply:
    if user is None:
        return Reply(200, {"loggedIn": False})
    return Reply(200, {"loggedIn": True, "username": user, "iss": "argocd", "groups": []})


def _logout(server: ArgoCDServer, request: Request, user: str | None, body: Any) -> Reply:
    if user is None:
        return _unauthenticated()
    server.logout(request.headers.get("authorization", "").partition(" ")[2].strip())
    return Reply(200, {"token": ""})


def _build_app(server: ArgoCDServer) -> Starlette:
    def endpoint(operation: str, handler: Handler) -> Callable[[Request], Any]:
        async def serve(request: Request) -> Response:
            trouble = server.outage.take(f"{request.method} {request.url.path}")
            if trouble is not None and trouble.kind == "hang":
                await server.outage.wait_async(trouble)
            if trouble is not None and trouble.kind == "error":
                reply: Reply | None = Reply(trouble.status, render.runtime_error(_GRPC_CODE.get(trouble.status, 2), "upstream unavailable"))
            else:
                reply = server.injected_failure()
            if reply is None:
                reply = handler(server, request, server.user_for(request), await _json_body(request))
            server.record(request, operation, reply)
            return Response(json.dumps(reply.body), reply.status, headers=dict(reply.headers or {}),
                            media_type="application/json")

        return serve

    routes = [
        Route("/api/version", endpoint("/api/version", _version), methods=["GET"]),
        Route("/api/v1/applications", endpoint("/api/v1/applications", _list), methods=["GET"]),
        Route("/api/v1/applications/{name}", endpoint("/api/v1/applications/{name}", _get), methods=["GET"]),
        Route("/api/v1/session", endpoint("/api/v1/session", _login), methods=["POST"]),
        Route("/api/v1/session", endpoint("/api/v1/session", _logout), methods=["DELETE"]),
        Route("/api/v1/session/userinfo", endpoint("/api/v1/session/userinfo", _userinfo), methods=["GET"]),
    ]
    return Starlette(routes=routes)


@contextmanager
def serve_argocd(
    tokens: Iterable[str] = (DEFAULT_TOKEN,),
    clock: Callable[[], datetime] = _utcnow,
) -> Iterator[ArgoCDServer]:
    """Run an ArgoCD API server until the block exits."""
    server = ArgoCDServer(tokens, clock=clock).start()
    try:
        yield server
    finally:
        server.stop()

