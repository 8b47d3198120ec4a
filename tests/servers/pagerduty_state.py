"""The PagerDuty account the stand-in serves: users, services, incidents and their logs.

Incidents move the way PagerDuty moves them. A trigger opens an incident on the service
whose integration key routed it (or folds into the open one with the same dedup key);
acknowledging appends an `acknowledge_log_entry` each time (re-acknowledging after an
unacknowledge is possible, and only the first one counts for MTTA); resolving empties
`acknowledgements` and `assignments`, so the log is the only lasting record of who
acknowledged when. Notes and status updates each leave a log entry too. Every time comes
from the injected clock. Records here are plain data; JSON shapes live in
pagerduty_render.
"""

from __future__ import annotations

import itertools
import secrets
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

INCIDENT_STATUSES = ("triggered", "acknowledged", "resolved")
_BASE36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


class StateError(Exception):
    """A change PagerDuty would refuse (e.g. acknowledging a resolved incident)."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.message, self.code = message, code


@dataclass(frozen=True)
class User:
    id: str
    name: str
    email: str


@dataclass(frozen=True)
class Team:
    id: str
    name: str


@dataclass(frozen=True)
class Service:
    id: str
    name: str
    integration_key: str
    integration_id: str
    escalation_policy_id: str
    team: Team | None
    on_call: User | None
    created_at: datetime
    acknowledgement_timeout: int = 1800
    auto_resolve_timeout: int = 14400


@dataclass(frozen=True)
class Agent:
    """Who did something: a user, or the service itself (Events API, timeouts)."""

    kind: Literal["user", "service"]
    id: str
    summary: str


@dataclass(frozen=True)
class LogEntry:
    id: str
    type: str
    created_at: datetime
    agent: Agent
    summary: str
    channel: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Note:
    id: str
    content: str
    user: User
    created_at: datetime


@dataclass(frozen=True)
class StatusUpdate:
    id: str
    message: str
    sender: User
    created_at: datetime
    subject: str | None = None
    html_message: str | None = None


@dataclass
class Incident:
    """One incident; mutable because PagerDuty's incidents are."""

    id: str
    number: int
    title: str
    service: Service
    incident_key: str
    created_at: datetime
    status: str = "triggered"
    updated_at: datetime | None = None
    last_status_change_at: datetime | None = None
    last_status_change_by: Agent | None = None
    resolved_at: datetime | None = None
    acknowledgements: list[tuple[User | Service, datetime]] = field(default_factory=list)
    log: list[LogEntry] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    status_updates: list[StatusUpdate] = field(default_factory=list)
    alerts: int = 1


def user_agent(user: User) -> Agent:
    return Agent("user", user.id, user.name)


def service_agent(service: Service) -> Agent:
    return Agent("service", service.id, service.name)


class Account:
    """Everything the account holds, behind one lock; `clock` gives every timestamp."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.clock = clock
        self.lock = threading.RLock()
        self.users: dict[str, User] = {}
        self.services: dict[str, Service] = {}
        self.incidents: list[Incident] = []
        self.change_events: list[tuple[Service, dict[str, Any]]] = []
        self._ids = itertools.count(1)

    def new_id(self, prefix: str = "P", length: int = 7) -> str:
        """A PagerDuty-looking id (prefix + uppercase base 36), unique in this account."""
        n, digits = next(self._ids) * 7919 + 104729, ""  # spread, so neighbours look unrelated
        while n:
            n, rest = divmod(n, 36)
            digits = _BASE36[rest] + digits
        return prefix + digits.rjust(length - 1, "0")

    # -- setup -----------------------------------------------------------------------
    def add_user(self, name: str, email: str) -> User:
        with self.lock:
            user = User(self.new_id(), name, email)
            self.users[user.id] = user
            return user

    def add_service(self, name: str, team: str | None = None, on_call: User | None = None) -> Service:
        with self.lock:
            team_ref = Team(self.new_id(), team) if team else None
            service = Service(self.new_id(), name, secrets.token_hex(16), self.new_id(), self.new_id(),
                              team_ref, on_call, self.clock())
            self.services[service.id] = service
            return service

    def user_by_email(self, email: str) -> User | None:
        with self.lock:
            return next((u for u in self.users.values() if u.email.lower() == email.strip().lower()), None)

    def service_by_key(self, routing_key: str) -> Service | None:
        with self.lock:
            return next((s for s in self.services.values() if s.integration_key == routing_key), None)

    def incident(self, incident_id: str) -> Incident | None:
        with self.lock:
            return next((i for i in self.incidents if i.id == incident_id), None)

    # -- how incidents move ------------------------------------------------------------
    def trigger(self, service: Service, summary: str, dedup_key: str | None = None,
                details: dict[str, Any] | None = None) -> tuple[Incident, bool]:
        """Open an incident, or fold into the open one with this dedup key; (incident, opened?)."""
        with self.lock:
            key = dedup_key or uuid.uuid4().hex
            for existing in self.incidents:
                if existing.service == service and existing.incident_key == key and existing.status != "resolved":
                    existing.alerts += 1
                    return existing, False
            now = self.clock()
            number = len(self.incidents) + 1
            incident = Incident(self.new_id(), number, summary, service, key, now, updated_at=now,
                                last_status_change_at=now, last_status_change_by=service_agent(service))
            channel = {"type": "api", "summary": summary, "description": summary, "incident_key": key,
                       "service_key": service.integration_key, "details": details or {}}
            self._log(incident, "trigger_log_entry", service_agent(service), "Triggered through the API.", channel)
            if service.on_call is not None:
                self._log(incident, "assign_log_entry", service_agent(service),
                          f"Assigned to {service.on_call.name}.", {"type": "auto"},
                          {"assignees": [service.on_call]})
                self._log(incident, "notify_log_entry", service_agent(service),
                          f"Notified {service.on_call.name} by push notification.", {"type": "auto"},
                          {"user": service.on_call})
            self.incidents.append(incident)
            return incident, True

    def acknowledge(self, incident: Incident, by: User | Service) -> None:
        """Acknowledge (again, if already acknowledged: PagerDuty logs every one)."""
        with self.lock:
            self._refuse_if_resolved(incident)
            agent = user_agent(by) if isinstance(by, User) else service_agent(by)
            channel = {"type": "website"} if isinstance(by, User) else {"type": "api"}
            self._log(incident, "acknowledge_log_entry", agent, f"Acknowledged by {agent.summary}.", channel,
                      {"acknowledgement_timeout": incident.service.acknowledgement_timeout})
            now = self.clock()
            incident.acknowledgements = [a for a in incident.acknowledgements if a[0] != by] + [(by, now)]
            self._move(incident, "acknowledged", agent, now)

    def unacknowledge(self, incident: Incident) -> None:
        """The acknowledgement timed out: back to triggered, acknowledgements cleared."""
        with self.lock:
            self._refuse_if_resolved(incident)
            agent = service_agent(incident.service)
            self._log(incident, "unacknowledge_log_entry", agent,
                      "Unacknowledged due to timeout.", {"type": "timeout"})
            incident.acknowledgements = []
            self._move(incident, "triggered", agent, self.clock())

    def resolve(self, incident: Incident, by: User | Service) -> None:
        """Resolve; acknowledgements and assignments are emptied, as PagerDuty does."""
        with self.lock:
            self._refuse_if_resolved(incident)
            agent = user_agent(by) if isinstance(by, User) else service_agent(by)
            channel = {"type": "website"} if isinstance(by, User) else {"type": "api"}
            self._log(incident, "resolve_log_entry", agent, f"Resolved by {agent.summary}.", channel)
            now = self.clock()
            incident.acknowledgements = []
            incident.resolved_at = now
            self._move(incident, "resolved", agent, now)

    def add_note(self, incident: Incident, user: User, content: str) -> Note:
        with self.lock:
            note = Note(self.new_id(), content, user, self.clock())
            incident.notes.append(note)
            self._log(incident, "annotate_log_entry", user_agent(user), f"Note added by {user.name}.",
                      {"type": "note", "summary": content})
            incident.updated_at = note.created_at
            return note

    def add_status_update(self, incident: Incident, user: User, message: str,
                          subject: str | None = None, html_message: str | None = None) -> StatusUpdate:
        with self.lock:
            update = StatusUpdate(self.new_id(), message, user, self.clock(), subject, html_message)
            incident.status_updates.append(update)
            self._log(incident, "status_update_log_entry", user_agent(user),
                      f"Status update posted by {user.name}.", {"type": "website"}, {"message": message})
            incident.updated_at = update.created_at
            return update

    def _refuse_if_resolved(self, incident: Incident) -> None:
        if incident.status == "resolved":
            raise StateError("Incident Already Resolved", 1001)

    def _move(self, incident: Incident, status: str, agent: Agent, now: datetime) -> None:
        incident.status = status
        incident.updated_at = incident.last_status_change_at = now
        incident.last_status_change_by = agent

    def _log(self, incident: Incident, kind: str, agent: Agent, summary: str, channel: dict[str, Any],
             extra: dict[str, Any] | None = None) -> LogEntry:
        entry = LogEntry(self.new_id("R", 26), kind, self.clock(), agent, summary, channel, extra or {})
        incident.log.append(entry)
        return entry
