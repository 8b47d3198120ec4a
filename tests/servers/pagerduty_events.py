"""Events API v2 handlers of the PagerDuty stand-in (`POST /v2/enqueue`, `/v2/change/enqueue`).

The routing key (a service integration's 32-character key) is the only credential and
sits in the body. A trigger opens an incident on that service or folds into the open one
with the same `dedup_key`; acknowledge/resolve act on the open incident with that key
and are dropped (still 202) when there is none, as PagerDuty documents. Bad events get
400 with the `{"status", "message", "errors"}` body the Events API sends.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tests.servers.pagerduty_state import StateError

if TYPE_CHECKING:
    from tests.servers.pagerduty_api import PagerDutyServer

Json = dict[str, Any]
ACTIONS = ("trigger", "acknowledge", "resolve")
SEVERITIES = ("critical", "error", "warning", "info")
UNRECOGNIZED: tuple[int, Json] = (400, {"status": "Unrecognized object", "message": "Event object format is unrecognized",
                                        "errors": ["JSON parse error"]})


def invalid(*errors: str) -> tuple[int, Json]:
    return 400, {"status": "invalid event", "message": "Event object is invalid", "errors": list(errors)}


def routing_problem(server: PagerDutyServer, body: Any) -> tuple[int, Json] | None:
    """The 400 for a body that is no event object or lacks a known routing key, or None."""
    if not isinstance(body, dict):
        return UNRECOGNIZED
    key = body.get("routing_key")
    if not isinstance(key, str) or not key.strip():
        return invalid("'routing_key' is missing or blank")
    if len(key) != 32:
        return invalid("Length of 'routing_key' is incorrect (should be 32 characters)")
    if server.account.service_by_key(key) is None:
        return invalid("Invalid routing key")
    return None


def enqueue(server: PagerDutyServer, body: Any) -> tuple[int, Json]:
    """POST /v2/enqueue: trigger, acknowledge or resolve an alert."""
    problem = routing_problem(server, body)
    if problem is not None:
        return problem
    action = body.get("event_action")
    if action not in ACTIONS:
        return invalid("'event_action' is invalid (must be one of: trigger, acknowledge, resolve)")
    dedup_key = body.get("dedup_key")
    if dedup_key is not None and (not isinstance(dedup_key, str) or len(dedup_key) > 255):
        return invalid("'dedup_key' must be a string of at most 255 characters")
    service = server.account.service_by_key(body["routing_key"])
    assert service is not None
    if action == "trigger":
        payload = body.get("payload")
        if not isinstance(payload, dict):
            return invalid("'payload' is missing or blank")
        missing = [f"'payload.{name}' is missing or blank" for name in ("summary", "source", "severity")
                   if not isinstance(payload.get(name), str) or not payload[name].strip()]
        if missing:
            return invalid(*missing)
        if payload["severity"] not in SEVERITIES:
            return invalid("'payload.severity' is invalid (must be one of: critical, error, warning, info)")
        opened, _ = server.account.trigger(service, payload["summary"][:1024], dedup_key,
                                           payload.get("custom_details") or {})
        return 202, {"status": "success", "message": "Event processed", "dedup_key": opened.incident_key}
    if not dedup_key:
        return invalid("'dedup_key' is missing or blank")
    with server.account.lock:
        incident = next((i for i in server.account.incidents if i.service == service
                         and i.incident_key == dedup_key and i.status != "resolved"), None)
        if incident is not None and not (action == "acknowledge" and incident.status == "acknowledged"):
            try:
                (server.account.acknowledge if action == "acknowledge" else server.account.resolve)(incident, service)
            except StateError:
                pass  # raced with a resolve: PagerDuty drops the event
    return 202, {"status": "success", "message": "Event processed", "dedup_key": dedup_key}


def change_enqueue(server: PagerDutyServer, body: Any) -> tuple[int, Json]:
    """POST /v2/change/enqueue: recorded on the service, never opens an incident."""
    problem = routing_problem(server, body)
    if problem is not None:
        return problem
    payload = body.get("payload")
    if not isinstance(payload, dict) or not isinstance(payload.get("summary"), str) or not payload["summary"].strip():
        return invalid("'payload.summary' is missing or blank")
    service = server.account.service_by_key(body["routing_key"])
    assert service is not None
    with server.account.lock:
        server.account.change_events.append((service, payload))
    return 202, {"status": "success", "message": "Change event processed"}
