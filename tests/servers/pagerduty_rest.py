"""REST API v2 handlers of the PagerDuty stand-in: plain functions `RestCall -> Reply`.

pagerduty_api wraps them with TLS, `Token token=` auth, the per-token rate limit and
outage knobs. Query semantics follow PagerDuty's docs: classic pagination (`limit`
default 25, at most 100; `offset + limit` past 10000 is a 400), `GET /incidents` filters
by `service_ids[]`, `statuses[]`, `incident_key`, and `since`/`until` on `created_at`
(default: the last 30 days; `date_range=all` lifts it), log entries newest first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from tests.servers import pagerduty_render as render
from tests.servers.pagerduty_state import INCIDENT_STATUSES, Incident, StateError, User

if TYPE_CHECKING:
    from starlette.datastructures import QueryParams

    from tests.servers.pagerduty_api import ApiToken, PagerDutyServer

Json = dict[str, Any]
MAX_LIMIT = 100
DEFAULT_LIMIT = 25
ITERATION_LIMIT = 10000  # offset + limit may not exceed it (docs: REST API > Pagination)
DEFAULT_WINDOW = timedelta(days=30)


class RestError(Exception):
    """An error answer with PagerDuty's `{"error": {...}}` envelope."""

    def __init__(self, status: int, message: str, code: int, errors: list[str] | None = None) -> None:
        super().__init__(message)
        self.status, self.body = status, render.error(message, code, errors)


NOT_FOUND = (404, "Not Found", 2100)


@dataclass(frozen=True)
class Reply:
    body: Any
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RestCall:
    """One authenticated REST request, as the handlers see it."""

    server: PagerDutyServer
    token: ApiToken
    params: dict[str, Any]
    query: QueryParams
    body: Any
    from_header: str | None

    @property
    def render(self) -> render.Renderer:
        return render.Renderer(self.server.rest_url)

    def incident(self) -> Incident:
        found = self.server.account.incident(str(self.params["id"]))
        if found is None:
            raise RestError(*NOT_FOUND)
        return found

    def acting_user(self) -> User:
        """Who writes: a user key's own user, or (account keys) the user named by `From`."""
        if self.token.read_only:
            raise RestError(403, "Access Denied", 2010)
        if self.token.user is not None:
            return self.token.user
        if not self.from_header:
            raise RestError(400, "Invalid Input Provided", 2001,
                            ["You must specify a user's email address in the \"From\" header to perform this action"])
        user = self.server.account.user_by_email(self.from_header)
        if user is None:
            raise RestError(400, "Invalid Input Provided", 2001, ["Requester User Not Found"])
        return user


def _flag(query: QueryParams, name: str) -> bool:
    return query.get(name, "false").lower() == "true"


def _moment(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.strip().replace(" ", "+"))
    except ValueError as error:
        raise RestError(400, "Invalid time values in 'since' and/or 'until' parameters", 2004) from error
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _window(call: RestCall, default: timedelta | None) -> tuple[datetime | None, datetime | None]:
    """(since, until) from the query; with `default`, a missing bound falls back to it."""
    if call.query.get("date_range") == "all":
        return None, None
    since = _moment(call.query["since"]) if call.query.get("since") else None
    until = _moment(call.query["until"]) if call.query.get("until") else None
    if default is not None:
        until = until or call.server.account.clock()
        since = since or until - default
    if since is not None and until is not None and since > until:
        raise RestError(400, "Invalid Query Date Range", 2005)
    return since, until


def _in_window(moment: datetime, window: tuple[datetime | None, datetime | None]) -> bool:
    since, until = window
    return (since is None or moment >= since) and (until is None or moment <= until)


def _paged(call: RestCall, key: str, items: list[Json]) -> Reply:
    try:
        limit = min(MAX_LIMIT, max(1, int(call.query.get("limit", DEFAULT_LIMIT))))
        offset = max(0, int(call.query.get("offset", 0)))
    except ValueError as error:
        raise RestError(400, "Invalid Input Provided", 2001, ["Limit and offset must be integers"]) from error
    if offset + limit > ITERATION_LIMIT:
        raise RestError(400, "Invalid Input Provided", 2001,
                        [f"Offset plus limit must not exceed {ITERATION_LIMIT}"])
    chunk = items[offset : offset + limit]
    total = len(items) if _flag(call.query, "total") else None
    return Reply(render.page(key, chunk, limit, offset, total, offset + len(chunk) < len(items)))


def list_incidents(call: RestCall) -> Reply:
    """GET /incidents."""
    statuses = call.query.getlist("statuses[]")
    if any(status not in INCIDENT_STATUSES for status in statuses):
        raise RestError(400, "Invalid Input Provided", 2001,
                        ["Status must be a list of triggered, acknowledged, or resolved."])
    services = set(call.query.getlist("service_ids[]"))
    teams = set(call.query.getlist("team_ids[]"))
    window = _window(call, DEFAULT_WINDOW)
    key = call.query.get("incident_key")
    with call.server.account.lock:
        chosen = [
            i for i in call.server.account.incidents
            if (not statuses or i.status in statuses) and (not services or i.service.id in services)
            and (not teams or (i.service.team is not None and i.service.team.id in teams))
            and (key is None or i.incident_key == key) and _in_window(i.created_at, window)
        ]
        chosen.sort(key=_incident_order(call.query.get("sort_by", "created_at")))
        return _paged(call, "incidents", [call.render.incident(i) for i in chosen])


def _incident_order(sort_by: str) -> Callable[[Incident], Any]:
    field_name, _, direction = sort_by.partition(",")[0].partition(":")
    sign = -1 if direction == "desc" else 1
    if field_name == "resolved_at":
        return lambda i: sign * (i.resolved_at or datetime.max.replace(tzinfo=timezone.utc)).timestamp()
    return lambda i: sign * i.number  # created_at and incident_number order the same


def get_incident(call: RestCall) -> Reply:
    """GET /incidents/{id}."""
    with call.server.account.lock:
        return Reply({"incident": call.render.incident(call.incident())})


def update_incident(call: RestCall) -> Reply:
    """PUT /incidents/{id} with status acknowledged/resolved (beyond the contract subset)."""
    incident, user = call.incident(), call.acting_user()
    wanted = (call.body or {}).get("incident", {}) if isinstance(call.body, dict) else {}
    status = wanted.get("status")
    if status not in ("acknowledged", "resolved"):
        raise RestError(400, "Invalid Input Provided", 2001, ["Status must be acknowledged or resolved."])
    try:
        (call.server.account.acknowledge if status == "acknowledged" else call.server.account.resolve)(incident, user)
    except StateError as refused:
        raise RestError(400, refused.message, refused.code) from refused
    with call.server.account.lock:
        return Reply({"incident": call.render.incident(incident)})


def _entries(call: RestCall, incidents: list[Incident]) -> list[Json]:
    window = _window(call, None)
    overview = _flag(call.query, "is_overview")
    chosen = [
        (entry.created_at, n, incident, entry) for incident in incidents for n, entry in enumerate(incident.log)
        if _in_window(entry.created_at, window) and not (overview and entry.type == "notify_log_entry")
    ]
    chosen.sort(key=lambda item: item[:2], reverse=True)  # newest first; a tie keeps log order
    return [call.render.log_entry(incident, entry) for _, _, incident, entry in chosen]


def incident_log_entries(call: RestCall) -> Reply:
    """GET /incidents/{id}/log_entries."""
    with call.server.account.lock:
        return _paged(call, "log_entries", _entries(call, [call.incident()]))


def log_entries(call: RestCall) -> Reply:
    """GET /log_entries (the whole account; `team_ids[]` narrows it)."""
    teams = set(call.query.getlist("team_ids[]"))
    with call.server.account.lock:
        chosen = [i for i in call.server.account.incidents
                  if not teams or (i.service.team is not None and i.service.team.id in teams)]
        return _paged(call, "log_entries", _entries(call, chosen))


def list_notes(call: RestCall) -> Reply:
    """GET /incidents/{id}/notes (not paginated)."""
    with call.server.account.lock:
        return Reply({"notes": [call.render.note(note) for note in call.incident().notes]})


def create_note(call: RestCall) -> Reply:
    """POST /incidents/{id}/notes."""
    incident, user = call.incident(), call.acting_user()
    note = call.body.get("note") if isinstance(call.body, dict) else None
    content = note.get("content") if isinstance(note, dict) else None
    if not isinstance(content, str) or not content.strip():
        raise RestError(400, "Invalid Input Provided", 2001, ["Content cannot be empty."])
    return Reply({"note": call.render.note(call.server.account.add_note(incident, user, content))})


def create_status_update(call: RestCall) -> Reply:
    """POST /incidents/{id}/status_updates."""
    incident, user = call.incident(), call.acting_user()
    body = call.body if isinstance(call.body, dict) else {}
    message = body.get("message")
    if not isinstance(message, str) or not message.strip():
        raise RestError(400, "Invalid Input Provided", 2001, ["Message cannot be empty."])
    update = call.server.account.add_status_update(incident, user, message, body.get("subject"),
                                                   body.get("html_message"))
    return Reply({"status_update": call.render.status_update(update)})


def list_services(call: RestCall) -> Reply:
    """GET /services (`query` matches names case-insensitively, `team_ids[]` filters)."""
    text = call.query.get("query", "").lower()
    teams = set(call.query.getlist("team_ids[]"))
    with call.server.account.lock:
        services = sorted(call.server.account.services.values(), key=lambda s: s.name.lower())
        chosen = [s for s in services if text in s.name.lower()
                  and (not teams or (s.team is not None and s.team.id in teams))]
        incidents = list(call.server.account.incidents)
        return _paged(call, "services", [call.render.service(s, incidents) for s in chosen])


def get_service(call: RestCall) -> Reply:
    """GET /services/{id}."""
    with call.server.account.lock:
        service = call.server.account.services.get(str(call.params["id"]))
        if service is None:
            raise RestError(*NOT_FOUND)
        return Reply({"service": call.render.service(service, list(call.server.account.incidents))})


def list_abilities(call: RestCall) -> Reply:
    """GET /abilities."""
    return Reply({"abilities": list(call.server.abilities)})


Handler = Callable[[RestCall], Reply]

# (method, path template as in the OpenAPI document, handler)
ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/incidents", list_incidents),
    ("GET", "/incidents/{id}", get_incident),
    ("PUT", "/incidents/{id}", update_incident),
    ("GET", "/incidents/{id}/log_entries", incident_log_entries),
    ("GET", "/incidents/{id}/notes", list_notes),
    ("POST", "/incidents/{id}/notes", create_note),
    ("POST", "/incidents/{id}/status_updates", create_status_update),
    ("GET", "/log_entries", log_entries),
    ("GET", "/services", list_services),
    ("GET", "/services/{id}", get_service),
    ("GET", "/abilities", list_abilities),
]
