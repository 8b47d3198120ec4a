"""PagerDuty's JSON shapes for the stand-in's records (REST API v2, Events API v2).

Shapes follow PagerDuty/api-schema (shared/contracts/pagerduty-rest-subset.json) and the
examples in PagerDuty's developer docs: references carry id/type/summary/self/html_url,
times are UTC with a `Z`, `resolved_at` is null until resolved, lists carry the classic
pagination envelope (limit/offset/more/total, total null unless `total=true`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from tests.servers.pagerduty_state import Agent, Incident, LogEntry, Note, Service, StatusUpdate, Team, User

Json = dict[str, Any]
HTML_BASE = "https://faultbot-demo.pagerduty.invalid"


def when(moment: datetime) -> str:
    """PagerDuty's timestamp form: UTC, seconds, `Z`."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def error(message: str, code: int, errors: list[str] | None = None) -> Json:
    """The REST error envelope (docs: REST API > Errors)."""
    body: Json = {"message": message, "code": code}
    if errors:
        body["errors"] = errors
    return {"error": body}


@dataclass(frozen=True)
class Renderer:
    """Renders records with `self` links under the stand-in's own REST base URL."""

    api_url: str

    def ref(self, kind: str, id: str, summary: str, collection: str) -> Json:
        return {"id": id, "type": f"{kind}_reference", "summary": summary,
                "self": f"{self.api_url}/{collection}/{id}", "html_url": f"{HTML_BASE}/{collection}/{id}"}

    def user_ref(self, user: User) -> Json:
        return self.ref("user", user.id, user.name, "users")

    def service_ref(self, service: Service) -> Json:
        return self.ref("service", service.id, service.name, "services")

    def team_ref(self, team: Team) -> Json:
        return self.ref("team", team.id, team.name, "teams")

    def agent_ref(self, agent: Agent) -> Json:
        return self.ref(agent.kind, agent.id, agent.summary, f"{agent.kind}s")

    def incident_ref(self, incident: Incident) -> Json:
        return self.ref("incident", incident.id, _incident_summary(incident), "incidents")

    def policy_ref(self, service: Service) -> Json:
        return self.ref("escalation_policy", service.escalation_policy_id, f"{service.name} policy",
                        "escalation_policies")

    def incident(self, incident: Incident) -> Json:
        """An `Incident` as GET /incidents and GET /incidents/{id} return it."""
        service = incident.service
        first = incident.log[0]
        on_call = [] if incident.status == "resolved" or service.on_call is None else [service.on_call]
        return {
            "id": incident.id, "type": "incident", "summary": _incident_summary(incident),
            "self": f"{self.api_url}/incidents/{incident.id}", "html_url": f"{HTML_BASE}/incidents/{incident.id}",
            "incident_number": incident.number, "title": incident.title,
            "created_at": when(incident.created_at), "updated_at": when(incident.updated_at or incident.created_at),
            "status": incident.status, "incident_key": incident.incident_key,
            "service": self.service_ref(service),
            "assignments": [{"at": when(incident.created_at), "assignee": self.user_ref(u)} for u in on_call],
            "assigned_via": "escalation_policy",
            "last_status_change_at": when(incident.last_status_change_at or incident.created_at),
            "last_status_change_by": self.agent_ref(incident.last_status_change_by or Agent("service", service.id, service.name)),
            "resolved_at": when(incident.resolved_at) if incident.resolved_at else None,
            "first_trigger_log_entry": self.ref("trigger_log_entry", first.id, first.summary, "log_entries"),
            "alert_counts": {
                "all": incident.alerts,
                "triggered": 0 if incident.status == "resolved" else incident.alerts,
                "resolved": incident.alerts if incident.status == "resolved" else 0,
            },
            "is_mergeable": True, "incident_type": {"name": "incident_default"},
            "escalation_policy": self.policy_ref(service),
            "teams": [self.team_ref(service.team)] if service.team else [],
            "pending_actions": [],
            "acknowledgements": [
                {"at": when(at), "acknowledger": self.user_ref(by) if isinstance(by, User) else self.service_ref(by)}
                for by, at in incident.acknowledgements
            ],
            "urgency": "high",
        }

    def log_entry(self, incident: Incident, entry: LogEntry) -> Json:
        """A log entry as GET /incidents/{id}/log_entries and GET /log_entries return it."""
        body: Json = {
            "id": entry.id, "type": entry.type, "summary": entry.summary,
            "self": f"{self.api_url}/log_entries/{entry.id}",
            "html_url": f"{HTML_BASE}/incidents/{incident.id}/log_entries/{entry.id}",
            "created_at": when(entry.created_at), "agent": self.agent_ref(entry.agent),
            "channel": entry.channel, "service": self.service_ref(incident.service),
            "incident": self.incident_ref(incident),
            "teams": [self.team_ref(incident.service.team)] if incident.service.team else [],
            "contexts": [], "event_details": {"description": incident.title},
        }
        for key, value in entry.extra.items():
            if key == "assignees":
                body[key] = [self.user_ref(user) for user in value]
            elif key == "user":
                body[key] = self.user_ref(value)
            else:
                body[key] = value
        return body

    def note(self, note: Note) -> Json:
        """An `IncidentNote`."""
        return {"id": note.id, "user": self.user_ref(note.user),
                "channel": {"summary": "The PagerDuty website or APIs"},
                "content": note.content, "created_at": when(note.created_at)}

    def status_update(self, update: StatusUpdate) -> Json:
        """A `StatusUpdate` as POST /incidents/{id}/status_updates returns it."""
        body: Json = {"id": update.id, "message": update.message, "created_at": when(update.created_at),
                      "sender": self.user_ref(update.sender)}
        if update.subject is not None:
            body["subject"] = update.subject
        if update.html_message is not None:
            body["html_message"] = update.html_message
        return body

    def service(self, service: Service, incidents: list[Incident]) -> Json:
        """A `Service`; its status follows its open incidents, as PagerDuty's does."""
        statuses = {i.status for i in incidents if i.service == service}
        status = "critical" if "triggered" in statuses else "warning" if "acknowledged" in statuses else "active"
        last = max((i.created_at for i in incidents if i.service == service), default=None)
        body: Json = {
            "id": service.id, "type": "service", "summary": service.name,
            "self": f"{self.api_url}/services/{service.id}", "html_url": f"{HTML_BASE}/service-directory/{service.id}",
            "name": service.name, "description": service.name,
            "auto_resolve_timeout": service.auto_resolve_timeout,
            "acknowledgement_timeout": service.acknowledgement_timeout,
            "created_at": when(service.created_at), "status": status,
            "escalation_policy": self.policy_ref(service),
            "teams": [self.team_ref(service.team)] if service.team else [],
            "integrations": [self.ref("events_api_v2_inbound_integration", service.integration_id,
                                      "Events API v2", f"services/{service.id}/integrations")],
            "incident_urgency_rule": {"type": "constant", "urgency": "high"},
            "scheduled_actions": [], "addons": [],
            "alert_creation": "create_alerts_and_incidents",
        }
        if last is not None:
            body["last_incident_timestamp"] = when(last)
        return body


def page(key: str, items: list[Json], limit: int, offset: int, total: int | None, more: bool) -> Json:
    """The classic pagination envelope around one page of `items`."""
    return {key: items, "limit": limit, "offset": offset, "more": more, "total": total}


def _incident_summary(incident: Incident) -> str:
    return f"[#{incident.number}] {incident.title}"
