"""DEMO ONLY: an in-process PagerDuty for `faultbot demo`, at our own adapter's boundary.

Why not the HTTP one: PagerDuty's official client refuses anything but `https://`, so a
local PagerDuty needs a certificate authority, which only the test suite carries (trustme,
a test dependency). The demo's promise is "no accounts, nothing to install", so instead the
daemon reads this object through the same `IncidentSource` protocol as the real
`bot.pager.PagerDuty`; the client path itself is tested against the HTTPS stand-in in
tests/. Simulated monitoring opens incidents here and simulated responders acknowledge,
write notes, post status updates and resolve them, at game time.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import replace
from datetime import datetime

from bot.game.events import Message, PagerIncident


class DemoPagerDuty:
    """Incidents per service id, changed by the demo's simulated people."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._incidents: dict[str, list[PagerIncident]] = {}
        self._numbers = itertools.count(1)

    def incidents(self, service_id: str, since: datetime) -> list[PagerIncident]:
        """See `bot.pager.pagerduty.IncidentSource`."""
        with self._lock:
            return [i for i in self._incidents.get(service_id, []) if i.opened_at and i.opened_at >= since]

    def close(self) -> None:
        """Nothing to release."""

    def trigger(self, service_id: str, at: datetime) -> str:
        """Monitoring opens an incident; its id."""
        with self._lock:
            number = next(self._numbers)
            incident = PagerIncident(incident_id=f"PDEMO{number:04d}", number=number, opened_at=at)
            self._incidents.setdefault(service_id, []).append(incident)
            return incident.incident_id

    def _change(self, incident_id: str, **changes: object) -> None:
        with self._lock:
            for incidents in self._incidents.values():
                for position, incident in enumerate(incidents):
                    if incident.incident_id == incident_id:
                        incidents[position] = replace(incident, **changes)  # type: ignore[arg-type]

    def _get(self, incident_id: str) -> PagerIncident:
        with self._lock:
            return next(i for found in self._incidents.values() for i in found if i.incident_id == incident_id)

    def acknowledge(self, incident_id: str, who: str, at: datetime) -> None:
        """A person acknowledges (only the first acknowledgement counts, as in PagerDuty)."""
        if self._get(incident_id).acknowledged_at is None:
            self._change(incident_id, acknowledged_at=at, acknowledged_by=who)

    def write(self, incident_id: str, kind: str, who: str, text: str, at: datetime) -> None:
        """A note or a status update."""
        incident = self._get(incident_id)
        self._change(incident_id, messages=(*incident.messages, Message(kind, at, who, text)))

    def resolve(self, incident_id: str, who: str, at: datetime) -> None:
        """The incident is over."""
        if self._get(incident_id).resolved_at is None:
            self._change(incident_id, resolved_at=at, resolved_by=who)
