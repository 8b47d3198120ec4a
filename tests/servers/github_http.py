"""How the test forge turns a handler's `Reply` into GitHub's HTTP answer.

Per request, in GitHub's order: the outage knob (5xx, hang), authentication (401 "Bad
credentials"), the rate limit (`github_ratelimit`), then the handler; every answer gets
GitHub's headers (X-GitHub-Request-Id, X-RateLimit-*, Link), GET 200s an ETag and
Last-Modified, and a matching If-None-Match / If-Modified-Since a 304 with no body that
is not charged against the rate limit.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable
from datetime import datetime, timezone
from email.utils import format_datetime, parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from tests.servers import github_payloads as render
from tests.servers.github_apps import JWT_REFUSED
from tests.servers.github_call import ApiError, Call, Reply
from tests.servers.github_routes import ROUTES, Handler, openapi_path
from tests.servers.github_state import APIRequest, RecordedResponse

if TYPE_CHECKING:
    from tests.servers.github_api import GitHubServer


def build_app(server: GitHubServer) -> Starlette:
    """The Starlette app serving every route of `github_routes` for `server`."""
    routes = [
        Route(path, _endpoint(server, method, openapi_path(path), handler), methods=[method])
        for method, path, handler in ROUTES
    ]

    async def unknown_route(request: Request, error: Exception) -> Response:
        # GitHub answers JSON even for paths it does not know; the log shows what a bot
        # asked for that this server does not implement.
        status = getattr(error, "status_code", 404)
        message = "Not Found" if status == 404 else "Method Not Allowed"
        authorization = request.headers.get("authorization")
        if authorization and server.login_for(authorization) is None:
            status, message = 401, "Bad credentials"  # GitHub checks a token before it routes
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
