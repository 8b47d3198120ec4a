"""Every JSON body the local PagerDuty serves matches PagerDuty's published OpenAPI subsets.

One session touches all 11 REST operations of shared/contracts/pagerduty-rest-subset.json
and both Events API v2 operations, with success and error answers (400, 401, 403, 404,
429, 5xx). `PUT /incidents/{id}` (served for responders, not in the subset) is checked
against the `{"incident": Incident}` schema of `GET /incidents/{id}`. The 502/503 pages
of an outage are HTML, as a load balancer's are, and have no schema to meet.
"""

from __future__ import annotations

import httpx
import pagerduty
import pytest

from tests.servers.http_double import RecordedResponse
from tests.servers.openapi_contract import OpenAPIContract
from tests.servers.pagerduty_contract import (
    PAGERDUTY_EVENTS_SUBSET,
    PAGERDUTY_REST_SUBSET,
    REST_REWRITES,
    events_contract,
    rest_contract,
)
from tests.servers.pagerduty_world import PagerDutyWorld, StepClock, open_world
from tests.shared_files import require

EVENT_OPERATIONS = ("/enqueue", "/change/enqueue")


@pytest.fixture(scope="module")
def contracts() -> tuple[OpenAPIContract, OpenAPIContract]:
    require(PAGERDUTY_REST_SUBSET)
    require(PAGERDUTY_EVENTS_SUBSET)
    return rest_contract(), events_contract()


@pytest.fixture(scope="module")
def session() -> list[RecordedResponse]:
    """What monitoring, responders and faultbot do in one game, errors included."""
    clock = StepClock()
    with open_world(clock, rest_rate_limit=30, events_rate_limit=3) as world:
        _play(world, clock)
        return world.server.responses


def _play(world: PagerDutyWorld, clock: StepClock) -> None:
    server, tls = world.server, world.tls
    events = pagerduty.EventsApiV2Client(world.team_a.integration_key, base_url=server.events_url, verify=tls)
    with events, httpx.Client(base_url=server.rest_url, verify=tls, headers={
            "Authorization": f"Token token={world.account_key}", "From": "bob@team-a.example"}) as api:
        key = events.trigger("chat answers 502", "probe.team-a")
        events.submit("deployed chat 1.2", "ci", timestamp="2026-06-01T09:00:00Z")
        server.trigger(world.team_b, "team b's incident")
        incident = server.incidents[0]
        clock.advance(minutes=2)
        server.acknowledge(incident.id, world.alice)
        api.post(f"/incidents/{incident.id}/notes", json={"note": {"content": "On it"}})
        api.post(f"/incidents/{incident.id}/status_updates", json={"message": "Rolling back", "subject": "Chat"})
        api.get("/incidents", params={"limit": 1, "total": "true"})
        api.get("/incidents", params={"service_ids[]": world.team_a.id, "statuses[]": ["acknowledged"]})
        api.get(f"/incidents/{incident.id}")
        api.get(f"/incidents/{server.incidents[1].id}")  # still triggered: resolved_at is null
        api.get(f"/incidents/{incident.id}/log_entries", params={"limit": 2})
        api.get(f"/incidents/{incident.id}/notes")
        api.get("/log_entries", params={"is_overview": "true"})
        api.get("/services")
        api.get(f"/services/{world.team_a.id}")
        api.get("/abilities")
        api.put(f"/incidents/{incident.id}", json={"incident": {"type": "incident_reference", "status": "resolved"}})
        events.resolve(key)
        api.get(f"/incidents/{incident.id}/log_entries")
        # refusals
        api.get("/incidents", params={"statuses[]": "open"})
        api.post(f"/incidents/{incident.id}/notes", json={"note": {}})
        api.get("/incidents/PNOPE00")
        api.get("/services/PNOPE00")
        api.get("/incidents/PNOPE00/notes")
        api.get("/abilities", headers={"Authorization": "Token token=wrong"})
        api.post(f"/incidents/{incident.id}/notes", json={"note": {"content": "x"}},
                 headers={"Authorization": f"Token token={world.readonly_key}"})
        server.rest_faults.fail_next(1, 500)
        server.rest_faults.fail_next(1, 503)
        api.get("/incidents")
        api.get("/incidents")
        for _ in range(30):  # the rest of the key's budget of 30, and one more
            api.get("/abilities")
        for body in ({"event_action": "trigger"}, {"routing_key": world.team_a.integration_key}):
            httpx.post(server.events_url + "/v2/enqueue", json=body, verify=tls)
        httpx.post(server.events_url + "/v2/change/enqueue", json={"routing_key": "short"}, verify=tls)
        server.events_faults.fail_next(1, 500)
        httpx.post(server.events_url + "/v2/enqueue", json={}, verify=tls)
        for _ in range(3):  # past the routing key's budget of 3
            httpx.post(server.events_url + "/v2/enqueue", json={"routing_key": world.team_a.integration_key,
                                                                "event_action": "trigger"}, verify=tls)


def _problems(rest: OpenAPIContract, events: OpenAPIContract, recorded: list[RecordedResponse]) -> list[str]:
    problems = []
    for response in recorded:
        if isinstance(response.body, str):
            continue  # an outage page
        contract = events if response.operation in EVENT_OPERATIONS else rest
        method, operation = response.method, response.operation
        if (method, operation) == ("PUT", "/incidents/{id}"):
            method = "GET"
        problems += [str(v) for v in contract.violations(method, operation, response.status, response.body)]
    return problems


def test_every_response_matches_the_published_schema(contracts: tuple[OpenAPIContract, OpenAPIContract],
                                                     session: list[RecordedResponse]) -> None:
    rest, events = contracts
    problems = _problems(rest, events, session)
    assert problems == [], "\n".join(problems[:40])

    answered = {(r.method, r.operation) for r in session if r.status < 300}
    assert rest.operations() - answered == set(), "the session should exercise every REST operation"
    assert events.operations() - answered == set(), "the session should exercise both Events operations"
    statuses = {(r.operation in EVENT_OPERATIONS, r.status) for r in session}
    assert {(False, s) for s in (200, 400, 401, 403, 404, 429, 500, 503)} <= statuses
    assert {(True, s) for s in (202, 400, 429, 500)} <= statuses
    assert sum(isinstance(r.body, str) for r in session) == 1  # only the 503 page is not JSON


@pytest.mark.parametrize("rewrite", sorted(REST_REWRITES))
def test_each_rewrite_of_the_rest_schema_is_still_needed(contracts: tuple[OpenAPIContract, OpenAPIContract],
                                                         session: list[RecordedResponse], rewrite: str) -> None:
    """Without the rewrite, the published schema rejects the session; once upstream fixes
    the schema this fails, and the rewrite can be deleted."""
    pristine_on_this_point = rest_contract(skip=(rewrite,))
    assert _problems(pristine_on_this_point, contracts[1], session) != []


def test_the_checker_itself_catches_broken_bodies(contracts: tuple[OpenAPIContract, OpenAPIContract],
                                                  session: list[RecordedResponse]) -> None:
    """Guards against a checker that passes everything (e.g. a `$ref` that resolves to `{}`)."""
    rest, events = contracts
    incident = next(r.body for r in session if r.operation == "/incidents/{id}" and r.status == 200)
    assert rest.violations("GET", "/incidents/{id}", 200, incident) == []
    broken = {"incident": {**incident["incident"], "status": "open", "created_at": "yesterday"}}
    messages = sorted(v.message for v in rest.violations("GET", "/incidents/{id}", 200, broken))
    assert messages == ["'open' is not one of ['triggered', 'acknowledged', 'resolved']",
                        "'yesterday' is not a 'date-time'"]
    assert rest.violations("GET", "/abilities", 401, {"error": {"message": 2006}}) != []
    assert events.violations("POST", "/enqueue", 400, {"status": "invalid event"}) != []  # message is required
