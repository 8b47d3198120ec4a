"""The local PagerDuty on the wire: auth, filters, pagination, rate limits, outages, events.

These talk raw HTTP (httpx) so every status, header and body is what a client would see;
test_pagerduty_client.py does the same through the official `pagerduty` client.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.servers.local_tls import local_tls
from tests.servers.pagerduty_api import REST_RATE_LIMIT, serve_pagerduty
from tests.servers.pagerduty_world import PagerDutyWorld, StepClock

ACCEPT = {"Accept": "application/vnd.pagerduty+json;version=2"}


def rest(world: PagerDutyWorld, key: str | None = None, **headers: str) -> httpx.Client:
    auth = {"Authorization": f"Token token={key or world.account_key}"} if key != "" else {}
    return httpx.Client(base_url=world.server.rest_url, verify=world.tls, headers={**ACCEPT, **auth, **headers},
                        timeout=5)


@pytest.fixture
def api(world: PagerDutyWorld) -> Iterator[httpx.Client]:
    with rest(world) as client:
        yield client


def enqueue(world: PagerDutyWorld, body: dict[str, object]) -> httpx.Response:
    return httpx.post(world.server.events_url + "/v2/enqueue", json=body, verify=world.tls, timeout=5)


def trigger_body(world: PagerDutyWorld, summary: str = "chat answers 502", **extra: object) -> dict[str, object]:
    payload = {"summary": summary, "source": "probe.team-a", "severity": "critical"}
    return {"routing_key": world.team_a.integration_key, "event_action": "trigger", "payload": payload, **extra}


# -- authentication ----------------------------------------------------------------------
@pytest.mark.parametrize("authorization", [None, "Bearer acct-key-0123456789abcdef", "Token token=wrong",
                                           "token token=acct-key-0123456789abcdef"])
def test_every_request_needs_the_token_header_exactly(world: PagerDutyWorld, authorization: str | None) -> None:
    headers = {**ACCEPT, **({"Authorization": authorization} if authorization else {})}
    for path in ("/incidents", "/services", "/abilities", "/incidents/NOPE/log_entries"):
        answer = httpx.get(world.server.rest_url + path, headers=headers, verify=world.tls)
        assert answer.status_code == 401
        assert answer.json() == {"error": {"message": "Authentication failed", "code": 2006}}
        assert "ratelimit-limit" not in answer.headers


def test_plain_http_is_refused(world: PagerDutyWorld) -> None:
    with pytest.raises(httpx.HTTPError):
        httpx.get(world.server.rest_url.replace("https://", "http://") + "/abilities", timeout=5)


def test_an_unknown_path_is_a_pagerduty_404(api: httpx.Client) -> None:
    answer = api.get("/incidents/PNOPE01")
    assert answer.status_code == 404
    assert answer.json() == {"error": {"message": "Not Found", "code": 2100}}


# -- incidents: filters and pagination ------------------------------------------------------
def test_incidents_filter_by_service_status_and_creation_window(world: PagerDutyWorld, api: httpx.Client) -> None:
    server, clock = world.server, world.clock
    old = server.trigger(world.team_a, "last month's incident")
    clock.advance(days=31)
    shipped = clock.advance(minutes=1)
    mine = server.trigger(world.team_a, "chat answers 502")
    other = server.trigger(world.team_b, "team b's incident")
    server.acknowledge(mine.id, world.alice)

    def ids(**params: object) -> list[str]:
        answer = api.get("/incidents", params=params)
        assert answer.status_code == 200, answer.text
        return [incident["id"] for incident in answer.json()["incidents"]]

    assert ids() == [mine.id, other.id]  # the default window is the last 30 days
    assert ids(date_range="all") == [old.id, mine.id, other.id]
    assert ids(**{"service_ids[]": [world.team_a.id], "since": shipped.isoformat()}) == [mine.id]
    assert ids(**{"service_ids[]": [world.team_a.id], "date_range": "all"}) == [old.id, mine.id]
    assert ids(**{"statuses[]": ["triggered"]}) == [other.id]
    assert ids(**{"statuses[]": ["triggered", "acknowledged"], "sort_by": "created_at:desc"}) == [other.id, mine.id]
    assert ids(since="2026-07-02T09:01:01+0000", until="2026-07-02T09:02:00Z") == []
    assert ids(incident_key=mine.incident_key) == [mine.id]


def test_bad_filters_get_pagerduty_400s(api: httpx.Client) -> None:
    bad_status = api.get("/incidents", params={"statuses[]": "open"})
    assert (bad_status.status_code, bad_status.json()) == (400, {"error": {
        "message": "Invalid Input Provided", "code": 2001,
        "errors": ["Status must be a list of triggered, acknowledged, or resolved."]}})
    assert api.get("/incidents", params={"since": "yesterday"}).json()["error"]["code"] == 2004
    backwards = api.get("/incidents", params={"since": "2026-06-02T00:00:00Z", "until": "2026-06-01T00:00:00Z"})
    assert (backwards.status_code, backwards.json()["error"]["code"]) == (400, 2005)
    too_deep = api.get("/incidents", params={"offset": 9950, "limit": 100})
    assert (too_deep.status_code, too_deep.json()["error"]["code"]) == (400, 2001)


def test_classic_pagination(world: PagerDutyWorld, api: httpx.Client) -> None:
    made = [world.server.trigger(world.team_a, f"incident {n}").id for n in range(30)]
    first = api.get("/incidents").json()
    assert (first["limit"], first["offset"], first["more"], first["total"]) == (25, 0, True, None)
    rest_page = api.get("/incidents", params={"offset": 25, "limit": 10, "total": "true"}).json()
    assert (rest_page["more"], rest_page["total"]) == (False, 30)
    assert [i["id"] for i in first["incidents"] + rest_page["incidents"]] == made
    assert api.get("/incidents", params={"limit": 500}).json()["limit"] == 100


# -- what the responders do, as the log shows it ----------------------------------------------
def test_log_records_every_acknowledgement_and_resolving_clears_them(world: PagerDutyWorld,
                                                                     api: httpx.Client) -> None:
    server, clock = world.server, world.clock
    incident = server.trigger(world.team_a, "chat answers 502")
    clock.advance(minutes=3)
    server.acknowledge(incident.id, world.alice)
    clock.advance(minutes=30)
    server.unacknowledge(incident.id)
    clock.advance(minutes=1)
    server.acknowledge(incident.id, world.bob)
    acknowledged = api.get(f"/incidents/{incident.id}").json()["incident"]
    assert [a["acknowledger"]["summary"] for a in acknowledged["acknowledgements"]] == ["Bob Roy"]
    clock.advance(minutes=5)
    server.resolve(incident.id, world.bob)

    entries = api.get(f"/incidents/{incident.id}/log_entries").json()["log_entries"]
    assert [e["type"] for e in entries] == [
        "resolve_log_entry", "acknowledge_log_entry", "unacknowledge_log_entry", "acknowledge_log_entry",
        "notify_log_entry", "assign_log_entry", "trigger_log_entry"]  # newest first
    acks = [(e["created_at"], e["agent"]["summary"]) for e in entries if e["type"] == "acknowledge_log_entry"]
    assert sorted(acks)[0] == ("2026-06-01T09:03:00Z", "Alice Ng")
    resolved = api.get(f"/incidents/{incident.id}").json()["incident"]
    assert (resolved["status"], resolved["resolved_at"], resolved["acknowledgements"]) == (
        "resolved", "2026-06-01T09:39:00Z", [])
    overview = api.get(f"/incidents/{incident.id}/log_entries", params={"is_overview": "true"}).json()
    assert "notify_log_entry" not in {e["type"] for e in overview["log_entries"]}


def test_writes_need_a_writable_key_and_a_known_from_user(world: PagerDutyWorld, api: httpx.Client) -> None:
    incident = world.server.trigger(world.team_a, "chat answers 502")
    note = {"note": {"content": "Looking at the ingress"}}
    path = f"/incidents/{incident.id}/notes"
    with rest(world, world.readonly_key, From="alice@team-a.example") as readonly:
        assert readonly.post(path, json=note).json() == {"error": {"message": "Access Denied", "code": 2010}}
    assert api.post(path, json=note).status_code == 400  # an account key must say who writes
    assert api.post(path, json=note, headers={"From": "nobody@example"}).status_code == 400
    assert api.post(path, json={"note": {}}, headers={"From": "bob@team-a.example"}).status_code == 400
    by_bob = api.post(path, json=note, headers={"From": "bob@team-a.example"})
    assert by_bob.status_code == 200
    assert by_bob.json()["note"]["user"]["summary"] == "Bob Roy"
    with rest(world, world.alice_key) as alice:  # a user's key writes as that user
        update = alice.post(f"/incidents/{incident.id}/status_updates", json={"message": "Rollback under way"})
    assert update.json()["status_update"]["sender"]["summary"] == "Alice Ng"
    assert [n["content"] for n in api.get(path).json()["notes"]] == ["Looking at the ingress"]
    logged = api.get(f"/incidents/{incident.id}/log_entries").json()["log_entries"]
    assert [(e["type"], e.get("message")) for e in logged[:2]] == [
        ("status_update_log_entry", "Rollback under way"), ("annotate_log_entry", None)]


# -- rate limits ------------------------------------------------------------------------------
def test_default_budget_is_960_per_minute(api: httpx.Client) -> None:
    answer = api.get("/abilities")
    assert answer.headers["ratelimit-limit"] == str(REST_RATE_LIMIT) == "960"
    assert answer.headers["ratelimit-remaining"] == "959"


def test_rate_limit_is_per_key_and_per_user_and_resets_after_a_minute(step_clock: StepClock) -> None:
    clock = step_clock
    with serve_pagerduty(clock.now, rest_rate_limit=2) as server:
        alice = server.add_user("Alice", "alice@example.test")
        for key, user in (("k1", None), ("k2", None), ("alice-1", alice), ("alice-2", alice)):
            server.add_token(key, user=user)
        world_tls = local_tls().client_context()

        def get(key: str) -> httpx.Response:
            return httpx.get(server.rest_url + "/abilities", verify=world_tls,
                             headers={**ACCEPT, "Authorization": f"Token token={key}"})

        assert [get("k1").status_code for _ in range(3)] == [200, 200, 429]
        limited = get("k1")
        assert limited.json() == {"error": {"message": "Rate Limit Exceeded", "code": 2020}}
        assert (limited.headers["ratelimit-limit"], limited.headers["ratelimit-remaining"],
                limited.headers["ratelimit-reset"]) == ("2", "0", "60")
        assert get("k2").status_code == 200  # another account key has its own budget
        assert [get(k).status_code for k in ("alice-1", "alice-2", "alice-1")] == [200, 200, 429]  # one per user
        clock.advance(seconds=45)
        assert get("k1").headers["ratelimit-reset"] == "15"
        clock.advance(seconds=15)
        assert get("k1").status_code == 200


# -- outages ---------------------------------------------------------------------------------
def test_outages_5xx_closed_port_and_hangs(world: PagerDutyWorld, api: httpx.Client) -> None:
    server = world.server
    server.rest_faults.fail_next(1, 503)
    server.rest_faults.fail_next(1, 500)
    gateway = api.get("/abilities")
    assert (gateway.status_code, gateway.headers["content-type"].split(";")[0]) == (503, "text/html")
    internal = api.get("/abilities")
    assert (internal.status_code, internal.json()["error"]["code"]) == (500, 2000)
    assert api.get("/abilities").status_code == 200

    server.rest.down()
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.rest_url + "/abilities", verify=world.tls)
    server.rest.up()
    assert api.get("/abilities").status_code == 200

    server.rest_faults.hang_next(1, seconds=30)
    with pytest.raises(httpx.ReadTimeout):
        api.get("/abilities", timeout=0.3)
    server.rest_faults.release()
    assert api.get("/abilities").status_code == 200


# -- Events API v2 ------------------------------------------------------------------------------
def test_events_open_fold_acknowledge_and_resolve_incidents(world: PagerDutyWorld) -> None:
    opened = enqueue(world, trigger_body(world, dedup_key="team-a/chat-502"))
    assert (opened.status_code, opened.json()) == (202, {
        "status": "success", "message": "Event processed", "dedup_key": "team-a/chat-502"})
    assert enqueue(world, trigger_body(world, dedup_key="team-a/chat-502")).status_code == 202
    generated = enqueue(world, trigger_body(world, "disk full")).json()["dedup_key"]
    incidents = world.server.incidents
    assert [(i.title, i.service, i.alerts) for i in incidents] == [
        ("chat answers 502", world.team_a, 2), ("disk full", world.team_a, 1)]
    assert len(generated) == 32

    key = world.team_a.integration_key
    ack = {"routing_key": key, "event_action": "acknowledge", "dedup_key": "team-a/chat-502"}
    assert enqueue(world, ack).status_code == 202
    assert incidents[0].status == "acknowledged"
    assert incidents[0].log[-1].agent.summary == "team-a chat"  # acknowledged by the integration
    assert enqueue(world, {**ack, "event_action": "resolve"}).status_code == 202
    assert incidents[0].status == "resolved"
    dropped = enqueue(world, {**ack, "event_action": "resolve", "dedup_key": "never-opened"})
    assert dropped.status_code == 202
    reopened = enqueue(world, trigger_body(world, dedup_key="team-a/chat-502"))
    assert reopened.status_code == 202 and len(world.server.incidents) == 3  # resolved keys open anew


@pytest.mark.parametrize(("body", "error"), [
    ({"event_action": "trigger"}, "'routing_key' is missing or blank"),
    ({"routing_key": "short", "event_action": "trigger"}, "Length of 'routing_key' is incorrect (should be 32 characters)"),
    ({"routing_key": "0" * 32, "event_action": "trigger"}, "Invalid routing key"),
])
def test_events_refuse_bad_routing_keys(world: PagerDutyWorld, body: dict[str, object], error: str) -> None:
    answer = enqueue(world, body)
    assert (answer.status_code, answer.json()) == (400, {
        "status": "invalid event", "message": "Event object is invalid", "errors": [error]})


def test_events_refuse_incomplete_events(world: PagerDutyWorld) -> None:
    no_source = trigger_body(world)
    no_source["payload"] = {"summary": "x", "severity": "critical"}
    assert enqueue(world, no_source).json()["errors"] == ["'payload.source' is missing or blank"]
    bad_action = {**trigger_body(world), "event_action": "open"}
    assert enqueue(world, bad_action).status_code == 400
    unkeyed = {"routing_key": world.team_a.integration_key, "event_action": "resolve"}
    assert enqueue(world, unkeyed).json()["errors"] == ["'dedup_key' is missing or blank"]
    garbage = httpx.post(world.server.events_url + "/v2/enqueue", content=b"{not json", verify=world.tls)
    assert (garbage.status_code, garbage.json()["status"]) == (400, "Unrecognized object")
    assert world.server.incidents == []


def test_events_rate_limit_is_per_routing_key(step_clock: StepClock) -> None:
    clock = step_clock
    with serve_pagerduty(clock.now, events_rate_limit=1) as server:
        a, b = server.add_service("a"), server.add_service("b")
        tls = local_tls().client_context()

        def send(key: str) -> httpx.Response:
            body = {"routing_key": key, "event_action": "trigger",
                    "payload": {"summary": "x", "source": "y", "severity": "info"}}
            return httpx.post(server.events_url + "/v2/enqueue", json=body, verify=tls)

        assert [send(a.integration_key).status_code, send(a.integration_key).status_code,
                send(b.integration_key).status_code] == [202, 429, 202]
        clock.advance(minutes=1)
        assert send(a.integration_key).status_code == 202
