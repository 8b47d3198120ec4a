"""A local PagerDuty for tests: REST API v2 and Events API v2, each on its own HTTPS port.

Point the official client at it with
`RestApiV2Client(token, base_url=server.rest_url, verify=local_tls().client_context())` and
`EventsApiV2Client(service.integration_key, base_url=server.events_url, verify=...)`.
It is as strict as the real service where faultbot can notice: TLS only, every REST
request needs `Authorization: Token token=<key>` (401 with PagerDuty's error body
otherwise), read-only keys cannot write (403), account keys must name a user in `From`
to write, and each key (or user, for user keys) gets 960 requests per 60 s (429 with
`ratelimit-limit`/`-remaining`/`-reset`; the Events API, 120 per routing key). Tests
drive the people (`acknowledge`, `add_note`, `post_status_update`, `resolve`) and break
the network (`rest_faults.fail_next`, `.hang_next`, `rest.down()`/`up()`). Every answer
is recorded with its OpenAPI operation for the contract tests.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.servers import pagerduty_events as events
from tests.servers import pagerduty_render as render
from tests.servers.http_double import Faults, ListeningApp, RateWindow, RecordedResponse
from tests.servers.local_tls import local_tls
from tests.servers.pagerduty_rest import ROUTES, Handler, Reply, RestCall, RestError
from tests.servers.pagerduty_state import Account, Incident, Note, Service, StatusUpdate, User

REST_RATE_LIMIT = 960  # per minute, per account key or per user (PagerDuty: "REST API Rate Limits")
EVENTS_RATE_LIMIT = 120  # per minute, per routing key (PagerDuty: "Events API Rate Limits")
DEFAULT_ABILITIES = ("teams", "read_only_users", "status_update")
JSON_TYPE = "application/json; charset=utf-8"
_OUTAGE_PAGE = "<html><head><title>{0}</title></head><body><h1>{0}</h1></body></html>\n"


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class ApiToken:
    """A REST API key: an account key (user None) or a user's key; maybe read-only."""

    secret: str
    user: User | None = None
    read_only: bool = False

    @property
    def budget(self) -> str:
        """Whose rate limit it spends: a user's keys share one, an account key has its own."""
        return f"user:{self.user.id}" if self.user else f"key:{self.secret}"


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: str
    headers: dict[str, str]


class PagerDutyServer:
    """One PagerDuty account behind the REST and Events APIs; see the module docstring."""

    def __init__(self, clock: Callable[[], datetime] = _utcnow, rest_rate_limit: int = REST_RATE_LIMIT,
                 events_rate_limit: int = EVENTS_RATE_LIMIT) -> None:
        self.account = Account(clock)
        self.abilities: tuple[str, ...] = DEFAULT_ABILITIES
        self.rest_faults, self.events_faults = Faults(), Faults()
        self.rest_limit = RateWindow(rest_rate_limit, clock)
        self.events_limit = RateWindow(events_rate_limit, clock)
        self._tokens: dict[str, ApiToken] = {}
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._responses: list[RecordedResponse] = []
        self.rest = ListeningApp(_rest_app(self), "pagerduty-rest", local_tls())
        self.events = ListeningApp(_events_app(self), "pagerduty-events", local_tls())

    # -- lifecycle -------------------------------------------------------------------
    @property
    def rest_url(self) -> str:
        """REST API v2 base URL (PagerDuty's https://api.pagerduty.com)."""
        return self.rest.url

    @property
    def events_url(self) -> str:
        """Events API base URL (PagerDuty's https://events.pagerduty.com); paths start /v2/."""
        return self.events.url

    def start(self) -> PagerDutyServer:
        self.rest.start()
        self.events.start()
        return self

    def stop(self) -> None:
        self.rest_faults.release()
        self.events_faults.release()
        self.rest.request_stop()  # both wind down at once
        self.events.request_stop()
        self.rest.stop()
        self.events.stop()

    # -- the account -------------------------------------------------------------------
    def add_token(self, secret: str, user: User | None = None, read_only: bool = False) -> ApiToken:
        """Accept a REST key: an account key, or (with `user`) that user's own key."""
        token = ApiToken(secret, user, read_only)
        with self._lock:
            self._tokens[secret] = token
        return token

    def add_user(self, name: str, email: str) -> User:
        return self.account.add_user(name, email)

    def add_service(self, name: str, team: str | None = None, on_call: User | None = None) -> Service:
        """A service with one Events API v2 integration (its key routes alerts to it)."""
        return self.account.add_service(name, team, on_call)

    @property
    def incidents(self) -> list[Incident]:
        with self.account.lock:
            return list(self.account.incidents)

    def incident(self, incident_id: str) -> Incident:
        found = self.account.incident(incident_id)
        if found is None:
            raise KeyError(incident_id)
        return found

    # -- what the people on call do ------------------------------------------------------
    def trigger(self, service: Service, summary: str, dedup_key: str | None = None) -> Incident:
        """An alert on `service` (as the Events API would open it)."""
        return self.account.trigger(service, summary, dedup_key)[0]

    def acknowledge(self, incident_id: str, user: User) -> None:
        self.account.acknowledge(self.incident(incident_id), user)

    def unacknowledge(self, incident_id: str) -> None:
        """The acknowledgement timed out."""
        self.account.unacknowledge(self.incident(incident_id))

    def resolve(self, incident_id: str, user: User) -> None:
        self.account.resolve(self.incident(incident_id), user)

    def add_note(self, incident_id: str, user: User, content: str) -> Note:
        return self.account.add_note(self.incident(incident_id), user, content)

    def post_status_update(self, incident_id: str, user: User, message: str) -> StatusUpdate:
        return self.account.add_status_update(self.incident(incident_id), user, message)

    # -- what happened -------------------------------------------------------------------
    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def responses(self) -> list[RecordedResponse]:
        with self._lock:
            return list(self._responses)

    def token_for(self, authorization: str | None) -> ApiToken | None:
        """The key an `Authorization: Token token=<key>` header names, exactly in that form."""
        prefix = "Token token="
        if not authorization or not authorization.startswith(prefix):
            return None
        with self._lock:
            return self._tokens.get(authorization[len(prefix):])

    def record(self, request: Request, operation: str, status: int, body: Any, headers: dict[str, str]) -> None:
        kept = {k: v for k, v in request.headers.items() if k in ("accept", "content-type", "from", "user-agent")}
        with self._lock:
            self._requests.append(RecordedRequest(request.method, request.url.path, request.url.query, kept))
            self._responses.append(RecordedResponse(request.method, operation, status, body, headers))


def _respond(server: PagerDutyServer, request: Request, operation: str, reply: Reply) -> Response:
    server.record(request, operation, reply.status, reply.body, reply.headers)
    if isinstance(reply.body, str):
        return Response(reply.body, reply.status, headers=reply.headers, media_type="text/html")
    return Response(json.dumps(reply.body), reply.status, headers=reply.headers, media_type=JSON_TYPE)


def _outage(status: int, as_json: Any) -> Reply:
    """500 is PagerDuty's own JSON error; 502-504 come from the load balancer as HTML."""
    if status == 500:
        return Reply(as_json, 500)
    return Reply(_OUTAGE_PAGE.format(f"{status} Service Unavailable" if status == 503 else f"{status} Bad Gateway"), status)


async def _json(request: Request) -> tuple[bool, Any]:
    raw = await request.body()
    if not raw:
        return True, None
    try:
        return True, json.loads(raw)
    except json.JSONDecodeError:
        return False, None


def _rest_app(server: PagerDutyServer) -> Starlette:
    def endpoint(operation: str, handler: Handler) -> Callable[[Request], Any]:
        async def serve(request: Request) -> Response:
            parsed = await _json(request)
            await server.rest_faults.hang_if_queued()
            return _respond(server, request, operation, _rest_reply(server, request, handler, parsed))

        return serve

    async def unknown(request: Request, error: Exception) -> Response:
        return _respond(server, request, request.url.path, Reply(render.error("Not Found", 2100), 404))

    routes = [Route(path, endpoint(path, handler), methods=[method]) for method, path, handler in ROUTES]
    return Starlette(routes=routes, exception_handlers={404: unknown, 405: unknown})


def _rest_reply(server: PagerDutyServer, request: Request, handler: Handler, parsed: tuple[bool, Any]) -> Reply:
    injected = server.rest_faults.next_status()
    if injected is not None:
        return _outage(injected, render.error("An internal error has occurred. PagerDuty team has been notified.", 2000))
    token = server.token_for(request.headers.get("authorization"))
    if token is None:
        return Reply(render.error("Authentication failed", 2006), 401)
    allowed, remaining, reset = server.rest_limit.take(token.budget)
    limits = {"ratelimit-limit": str(server.rest_limit.limit), "ratelimit-remaining": str(remaining),
              "ratelimit-reset": str(reset)}
    if not allowed:
        return Reply(render.error("Rate Limit Exceeded", 2020), 429, limits)
    readable, body = parsed
    if not readable:
        return Reply(render.error("Invalid Input Provided", 2001, ["JSON parse error"]), 400, limits)
    call = RestCall(server, token, dict(request.path_params), request.query_params, body, request.headers.get("from"))
    try:
        reply = handler(call)
    except RestError as refused:
        reply = Reply(refused.body, refused.status)
    return Reply(reply.body, reply.status, {**reply.headers, **limits})


def _events_app(server: PagerDutyServer) -> Starlette:
    def endpoint(operation: str, handler: Callable[[PagerDutyServer, Any], tuple[int, Any]]) -> Callable[[Request], Any]:
        async def serve(request: Request) -> Response:
            parsed, body = await _json(request)
            await server.events_faults.hang_if_queued()
            injected = server.events_faults.next_status()
            if injected is not None:
                reply = _outage(injected, {"status": "error", "message": "Internal Server Error"})
            elif not parsed:
                reply = Reply(events.UNRECOGNIZED[1], 400)
            elif isinstance(body, dict) and isinstance(body.get("routing_key"), str) \
                    and not server.events_limit.take(body["routing_key"])[0]:
                reply = Reply({"status": "throttle event",
                               "message": "Requests for this service are arriving too quickly. Please retry later."}, 429)
            else:
                status, answer = handler(server, body)
                reply = Reply(answer, status)
            return _respond(server, request, operation, reply)

        return serve

    async def unknown(request: Request, error: Exception) -> Response:
        return _respond(server, request, request.url.path, Reply(events.UNRECOGNIZED[1], 404))

    return Starlette(
        routes=[Route("/v2/enqueue", endpoint("/enqueue", events.enqueue), methods=["POST"]),
                Route("/v2/change/enqueue", endpoint("/change/enqueue", events.change_enqueue), methods=["POST"])],
        exception_handlers={404: unknown, 405: unknown},
    )


@contextmanager
def serve_pagerduty(clock: Callable[[], datetime] = _utcnow, **limits: int) -> Iterator[PagerDutyServer]:
    """Run a PagerDuty stand-in until the block exits."""
    server = PagerDutyServer(clock, **limits).start()
    try:
        yield server
    finally:
        server.stop()
