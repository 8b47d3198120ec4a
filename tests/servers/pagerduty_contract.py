"""PagerDuty's published OpenAPI subsets, as checkers for the stand-in's answers.

The REST subset, checked as written, rejects bodies the live API sends, in four places.
Each rewrite below fixes exactly one of them and says why; the contract test shows each
is still needed (the pristine document rejects a real-shaped body), so a fixed upstream
schema makes that test fail and the rewrite can go.

Error statuses an operation does not list (REST 5xx; the Events API's 400/429, whose
entries carry only a description) are checked against that API's generic error schema.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.servers.openapi_contract import CONTRACTS_DIR, OpenAPIContract

PAGERDUTY_REST_SUBSET = CONTRACTS_DIR / "pagerduty-rest-subset.json"
PAGERDUTY_EVENTS_SUBSET = CONTRACTS_DIR / "pagerduty-events-v2-subset.json"
REST_ERROR = "#/components/responses/Conflict/content/application~1json/schema"
EVENTS_ERROR = "#/components/responses/Error/content/application~1json/schema"
LOG_ENTRY_LISTS = ("/incidents/{id}/log_entries", "/log_entries")

Document = dict[str, Any]


def _acknowledge_type(doc: Document) -> None:
    """AcknowledgeLogEntry narrows `type` to `acknowledgement_log_entry`, a value LogEntry's
    own enum (and LogEntryReference's `acknowledge_log_entry_reference`) does not allow:
    the allOf is unsatisfiable, so no acknowledge entry could validate. The API sends
    `acknowledge_log_entry`."""
    doc["components"]["schemas"]["AcknowledgeLogEntry"]["allOf"][1]["properties"]["type"]["enum"] = [
        "acknowledge_log_entry"]


def _channel_any_of(doc: Document) -> None:
    """Channel's oneOf lists five open objects (Nagios, API, Email, WebTrigger, Website)
    that no keyword tells apart, so every real channel matches several and oneOf fails.
    anyOf keeps each alternative's checks."""
    channel = doc["components"]["schemas"]["Channel"]
    channel["anyOf"] = channel.pop("oneOf")


def _resolved_at_nullable(doc: Document) -> None:
    """Incident.resolved_at is documented as "`null` if the incident is not resolved"
    but typed as a plain string; the API sends null."""
    doc["components"]["schemas"]["Incident"]["allOf"][1]["properties"]["resolved_at"]["nullable"] = True


def _status_update_log_entry(doc: Document) -> None:
    """Status updates appear in an incident's log as `status_update_log_entry` (with the
    text in `message`); the API has no GET for status updates, so clients read them
    there. The schema's LogEntry type list predates it."""
    schemas = doc["components"]["schemas"]
    schemas["LogEntry"]["allOf"][1]["properties"]["type"]["enum"].append("status_update_log_entry")
    schemas["StatusUpdateLogEntry"] = {"allOf": [
        {"$ref": "#/components/schemas/LogEntry"},
        {"type": "object", "properties": {"type": {"type": "string", "enum": ["status_update_log_entry"]},
                                          "message": {"type": "string"}}},
    ]}
    for path in LOG_ENTRY_LISTS:
        listing = doc["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        listing["allOf"][1]["properties"]["log_entries"]["items"]["oneOf"].append(
            {"$ref": "#/components/schemas/StatusUpdateLogEntry"})


REST_REWRITES: dict[str, Callable[[Document], None]] = {
    "acknowledge_type": _acknowledge_type,
    "channel_any_of": _channel_any_of,
    "resolved_at_nullable": _resolved_at_nullable,
    "status_update_log_entry": _status_update_log_entry,
}


def rest_document(path: Path = PAGERDUTY_REST_SUBSET, skip: tuple[str, ...] = ()) -> Document:
    """The REST subset with every rewrite applied except those named in `skip`."""
    document = json.loads(path.read_text())
    for name, rewrite in REST_REWRITES.items():
        if name not in skip:
            rewrite(document)
    return document


def rest_contract(path: Path = PAGERDUTY_REST_SUBSET, skip: tuple[str, ...] = ()) -> OpenAPIContract:
    """A checker for REST API v2 answers."""
    return OpenAPIContract(rest_document(path, skip), error_schema=REST_ERROR)


def events_contract(path: Path = PAGERDUTY_EVENTS_SUBSET) -> OpenAPIContract:
    """A checker for Events API v2 answers (the subset is used as published)."""
    return OpenAPIContract(copy.deepcopy(json.loads(path.read_text())), error_schema=EVENTS_ERROR)
