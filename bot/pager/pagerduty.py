"""Read a team's PagerDuty service through the official `pagerduty` client (REST API v2).

For a time window it returns every incident opened on the service, each read in full:
when it opened, the *first* acknowledgement (from the log entries: an incident's
`acknowledgements` are emptied when it is resolved, and a re-acknowledgement after a
timeout does not count), who acknowledged (a person, or a monitoring integration), when
and by whom it was resolved, and the notes and status updates with their times.

The client's defaults suit a script, not a poller, so they are changed: a 10 s timeout
instead of 60, no retry after a network error (the next tick is one), and a rate limit (429) retried once instead of
forever. Every failure — a bad key, a 429, a 5xx, a closed port, a timeout, a page that
fails half-way through a listing — becomes `PagerUnavailable`, and nothing read in that
call is returned: a partial listing would give wrong numbers, a failure only stale ones.
"""

from __future__ import annotations

import ssl
from datetime import datetime
from typing import Any, Protocol

import pagerduty

from bot.config import PagerDutySettings
from bot.errors import FaultbotError
from bot.game.events import Message, PagerIncident

TIMEOUT_S = 10  # seconds per request (the client default of 60 would stall a poll)


class PagerUnavailable(FaultbotError):
    """PagerDuty could not be read now; `retry_after` seconds, where it said (429)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class IncidentSource(Protocol):
    """Anything that can list a service's incidents (PagerDuty, or the demo's stand-in)."""

    def incidents(self, service_id: str, since: datetime) -> list[PagerIncident]:
        """Incidents opened on the service at or after `since`, oldest first, each read in full."""

    def close(self) -> None:
        """Release connections."""


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _summary(reference: Any) -> str | None:
    return str(reference.get("summary")) if isinstance(reference, dict) and reference.get("summary") else None


def incident_from(incident: dict[str, Any], entries: list[dict[str, Any]], notes: list[dict[str, Any]]) -> PagerIncident:
    """One incident's facts from its JSON, its log entries and its notes."""
    def first(kind: str) -> dict[str, Any] | None:
        matching = [e for e in entries if e.get("type") == kind and _time(e.get("created_at"))]
        return min(matching, key=lambda e: _time(e["created_at"]) or datetime.min, default=None)

    ack, resolve = first("acknowledge_log_entry"), first("resolve_log_entry")
    messages = [Message("note", _time(n.get("created_at")), _summary(n.get("user")), str(n.get("content") or ""))
                for n in notes]
    messages += [Message("status_update", _time(e.get("created_at")), _summary(e.get("agent")),
                         str(e.get("message") or ""))
                 for e in entries if e.get("type") == "status_update_log_entry"]
    messages.sort(key=lambda m: m.at or datetime.min)
    agent = ack.get("agent") if ack else None
    return PagerIncident(
        incident_id=str(incident["id"]),
        number=incident.get("incident_number"),
        opened_at=_time(incident.get("created_at")),
        acknowledged_at=_time(ack.get("created_at")) if ack else None,
        acknowledged_by=_summary(agent),
        acknowledged_by_person=not (isinstance(agent, dict) and agent.get("type") == "service_reference"),
        resolved_at=_time(incident.get("resolved_at")) or (_time(resolve.get("created_at")) if resolve else None),
        resolved_by=_summary(resolve.get("agent")) if resolve else None,
        messages=tuple(messages),
    )


class PagerDuty:
    """The REST API v2, read-only, one client per token."""

    def __init__(self, settings: PagerDutySettings, token: str, *, verify: ssl.SSLContext | str | bool = True,
                 sleep_timer: float = 1.5) -> None:
        if not token:
            raise FaultbotError(f"pagerduty.token_env: ${settings.token_env} is empty or not set")
        if settings.ca_bundle and verify is True:
            try:
                verify = ssl.create_default_context(cafile=settings.ca_bundle)
            except (OSError, ssl.SSLError) as exc:
                raise FaultbotError(f"pagerduty.ca_bundle: cannot read {settings.ca_bundle}: {exc}") from None
        self.client = pagerduty.RestApiV2Client(token, base_url=settings.api_url, verify=verify)
        self.client.timeout = TIMEOUT_S
        self.client.max_network_attempts = 0  # no retry: the next tick is the retry
        self.client.sleep_timer = sleep_timer  # type: ignore[assignment]  # typed int, used as seconds
        self.client.retry[429] = 1  # unset means "retry forever": a rate limit would block the poller

    def incidents(self, service_id: str, since: datetime) -> list[PagerIncident]:
        """See `IncidentSource.incidents`."""
        try:
            return self._incidents(service_id, since)
        except pagerduty.Error as exc:
            response = getattr(exc, "response", None)
            status = response.status_code if response is not None else None
            reset = response.headers.get("ratelimit-reset") if response is not None else None
            what = f"HTTP {status}" if status else (exc.__cause__.__class__.__name__ if exc.__cause__ else "error")
            raise PagerUnavailable(f"PagerDuty: {what} reading service {service_id}",
                                   float(reset) if reset and reset.isdigit() else None) from exc

    def _incidents(self, service_id: str, since: datetime) -> list[PagerIncident]:
        listed = list(self.client.iter_all("incidents", params={
            "service_ids[]": [service_id], "since": since.isoformat(), "sort_by": "created_at:asc"}))
        found = []
        for incident in listed:
            opened = _time(incident.get("created_at"))
            if opened is None or opened < since:  # `since` is inclusive on the server; keep the guard
                continue
            entries = list(self.client.iter_all(f"/incidents/{incident['id']}/log_entries"))
            notes = self.client.rget(f"/incidents/{incident['id']}/notes")  # not paginated: no iter_all
            found.append(incident_from(incident, entries, notes if isinstance(notes, list) else []))
        return found

    def close(self) -> None:
        """Release connections."""
        self.client.close()
