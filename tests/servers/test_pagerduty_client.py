"""The official `pagerduty` client against the local PagerDuty, used as faultbot will use it.

For one fault: the incidents opened on the team's service after the fault shipped, the
first acknowledgement (when, by whom), when it was resolved, and the notes and status
updates with their times. Then how 401s, rate limits, outages and hangs reach the caller.
docs/pagerduty-client.md explains the calls; these tests are its evidence.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx2
import pagerduty
import pytest

from tests.servers.local_tls import local_tls
from tests.servers.pagerduty_api import serve_pagerduty
from tests.servers.pagerduty_world import PagerDutyWorld, StepClock


def rest_client(world: PagerDutyWorld, key: str | None = None, **settings: Any) -> pagerduty.RestApiV2Client:
    """The constructor faultbot needs for a local (or EU, or any non-default) base URL."""
    client = pagerduty.RestApiV2Client(key or world.account_key, base_url=world.server.rest_url, verify=world.tls)
    for name, value in settings.items():
        setattr(client, name, value)
    return client


@pytest.fixture
def client(world: PagerDutyWorld) -> Iterator[pagerduty.RestApiV2Client]:
    with rest_client(world) as opened:
        yield opened


def stamp(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def incidents_since(client: pagerduty.RestApiV2Client, service_id: str, shipped: datetime) -> list[dict[str, Any]]:
    """Incidents opened on one service at or after `shipped`, oldest first."""
    found = client.iter_all("incidents", params={"service_ids[]": [service_id], "since": shipped.isoformat(),
                                                 "sort_by": "created_at:asc"})
    return [incident for incident in found if stamp(incident["created_at"]) >= shipped]


def first_of(entries: list[dict[str, Any]], kind: str) -> dict[str, Any] | None:
    matching = [entry for entry in entries if entry["type"] == kind]
    return min(matching, key=lambda entry: stamp(entry["created_at"]), default=None)


def test_what_faultbot_reads_for_one_fault(world: PagerDutyWorld, client: pagerduty.RestApiV2Client) -> None:
    server, clock, alice, bob = world.server, world.clock, world.alice, world.bob
    server.trigger(world.team_a, "an older incident")
    shipped = clock.advance(minutes=10)
    clock.advance(minutes=1)
    with pagerduty_events(world) as monitoring:
        dedup_key = monitoring.trigger("chat answers 502", "probe.team-a", dedup_key="team-a/chat")
    server.trigger(world.team_b, "another team's incident")
    incident = server.incidents[1]
    clock.advance(minutes=3)
    server.acknowledge(incident.id, alice)
    clock.advance(minutes=1)
    with rest_client(world, world.alice_key) as alices:  # a responder writes as herself
        alices.rpost(f"/incidents/{incident.id}/notes", json={"content": "Ingress returns 502, looking"})
        clock.advance(minutes=1)
        alices.rpost(f"/incidents/{incident.id}/status_updates", json={"message": "Rolling back"})
    clock.advance(minutes=30)
    server.unacknowledge(incident.id)
    clock.advance(minutes=1)
    server.acknowledge(incident.id, bob)
    clock.advance(minutes=4)
    server.resolve(incident.id, bob)

    opened = incidents_since(client, world.team_a.id, shipped)
    assert [(i["id"], i["incident_key"], i["status"]) for i in opened] == [(incident.id, dedup_key, "resolved")]
    created = stamp(opened[0]["created_at"])
    entries = list(client.iter_all(f"/incidents/{incident.id}/log_entries"))
    first_ack = first_of(entries, "acknowledge_log_entry")
    assert first_ack is not None
    assert stamp(first_ack["created_at"]) - created == timedelta(minutes=3)  # MTTA: the first one counts
    assert (first_ack["agent"]["type"], first_ack["agent"]["summary"]) == ("user_reference", "Alice Ng")
    assert opened[0]["acknowledgements"] == []  # emptied on resolve: only the log remembers
    assert stamp(opened[0]["resolved_at"]) - created == timedelta(minutes=40)
    resolved = first_of(entries, "resolve_log_entry")
    assert resolved is not None and resolved["agent"]["summary"] == "Bob Roy"
    notes = client.rget(f"/incidents/{incident.id}/notes")
    assert [(n["content"], n["created_at"], n["user"]["summary"]) for n in notes] == [
        ("Ingress returns 502, looking", "2026-06-01T09:15:00Z", "Alice Ng")]
    updates = [(e["message"], e["created_at"], e["agent"]["summary"])
               for e in entries if e["type"] == "status_update_log_entry"]
    assert updates == [("Rolling back", "2026-06-01T09:16:00Z", "Alice Ng")]
    assert server.requests[-1].headers["accept"] == "application/vnd.pagerduty+json;version=2"


def test_iter_history_and_totals_use_pagerdutys_date_format(world: PagerDutyWorld,
                                                           client: pagerduty.RestApiV2Client) -> None:
    for n in range(3):
        world.server.trigger(world.team_a, f"incident {n}")
        world.clock.advance(minutes=1)
    since = datetime(2026, 6, 1, 9, 1, tzinfo=timezone.utc)
    # iter_history sends since/until as "2026-06-01T09:01:00+0000" and asks for `total`.
    history = list(client.iter_history("/incidents", since, since + timedelta(hours=1)))
    assert [i["title"] for i in history] == ["incident 1", "incident 2"]
    assert client.get_total("/incidents", params={"date_range": "all"}) == 3


def test_a_plain_http_base_url_is_refused_by_the_client(world: PagerDutyWorld) -> None:
    with pytest.raises(pagerduty.UrlError):
        pagerduty.RestApiV2Client(world.account_key, base_url=world.server.rest_url.replace("https", "http"))


def test_a_bad_key_raises_at_once_without_printing_it(world: PagerDutyWorld) -> None:
    secret = "not-a-key-but-a-long-secret-9876"
    with rest_client(world, secret) as bad, pytest.raises(pagerduty.HttpError) as raised:
        bad.get("/abilities")  # even the plain verbs raise on 401
    assert raised.value.response.status_code == 401
    assert secret not in str(raised.value) and "*9876" in str(raised.value)


def test_rate_limits_retry_forever_by_default_and_surface_when_bounded(step_clock: StepClock) -> None:
    ticks = iter(range(10_000))

    def racing_clock() -> datetime:  # every read is 20 s later: a window resets after three
        return step_clock.moment + timedelta(seconds=20 * next(ticks))

    with serve_pagerduty(racing_clock, rest_rate_limit=1) as server:
        server.add_token("key")
        base = {"base_url": server.rest_url, "verify": local_tls().client_context()}
        with pagerduty.RestApiV2Client("key", **base) as patient:
            patient.sleep_timer = 0.001  # the default 1.5 s, doubling, is real time
            assert patient.rget("/abilities")
            assert patient.rget("/abilities")  # answered 429 twice, retried silently
            assert [r.status for r in server.responses] == [200, 429, 429, 200]
        with pagerduty.RestApiV2Client("key", **base) as bounded:
            bounded.sleep_timer = 0.001
            bounded.retry[429] = 1  # one retry, then the 429 comes back
            with pytest.raises(pagerduty.HttpError) as raised:
                bounded.rget("/abilities")
                bounded.rget("/abilities")
        assert raised.value.response.status_code == 429
        assert int(raised.value.response.headers["ratelimit-reset"]) > 0


def test_outages_surface_as_errors(world: PagerDutyWorld) -> None:
    server = world.server
    with rest_client(world, sleep_timer=0.001, max_network_attempts=1, timeout=0.3) as client:
        server.rest_faults.fail_next(1, 503)
        with pytest.raises(pagerduty.ServerHttpError) as gateway:
            client.rget("/abilities")
        assert gateway.value.response.status_code == 503  # REST 5xx: no retry by default

        server.rest.down()
        with pytest.raises(pagerduty.Error) as refused:
            client.rget("/abilities")
        assert refused.value.response is None
        assert isinstance(refused.value.__cause__, httpx2.ConnectError)
        server.rest.up()

        server.rest_faults.hang_next(2, seconds=30)
        with pytest.raises(pagerduty.Error) as hung:
            client.rget("/abilities")
        assert isinstance(hung.value.__cause__, httpx2.TimeoutException)
        server.rest_faults.release()
        assert client.rget("/abilities")


def pagerduty_events(world: PagerDutyWorld, **settings: Any) -> pagerduty.EventsApiV2Client:
    client = pagerduty.EventsApiV2Client(world.team_a.integration_key, base_url=world.server.events_url,
                                         verify=world.tls)
    for name, value in settings.items():
        setattr(client, name, value)
    return client


def test_events_client_opens_acknowledges_and_resolves(world: PagerDutyWorld) -> None:
    with pagerduty_events(world) as monitoring:
        key = monitoring.trigger("chat answers 502", "probe.team-a")
        monitoring.acknowledge(key)
        assert world.server.incidents[0].status == "acknowledged"
        monitoring.resolve(key)
    incident = world.server.incidents[0]
    assert (incident.incident_key, incident.status) == (key, "resolved")


def test_events_client_retries_5xx_a_few_times(world: PagerDutyWorld) -> None:
    with pagerduty_events(world, sleep_timer=0.001) as monitoring:
        world.server.events_faults.fail_next(2, 503)
        assert monitoring.trigger("chat answers 502", "probe.team-a")
        world.server.events_faults.fail_next(10, 503)
        with pytest.raises(pagerduty.ServerHttpError):
            monitoring.trigger("again", "probe.team-a")
    statuses = [r.status for r in world.server.responses]
    assert statuses == [503, 503, 202] + [503] * 7  # retry[503] = 6 in EventsApiV2Client


def test_change_events_need_an_explicit_timestamp(world: PagerDutyWorld) -> None:
    """pagerduty 7.2's default timestamp calls `datetime.timezone` on the class: AttributeError."""
    submit: Callable[..., None]
    with pagerduty_events(world) as monitoring:
        submit = monitoring.submit
        with pytest.raises(AttributeError):
            submit("deployed chat 1.2", "ci")
        submit("deployed chat 1.2", "ci", timestamp="2026-06-01T09:00:00Z")
    assert [(s, p["summary"]) for s, p in world.server.account.change_events] == [
        (world.team_a, "deployed chat 1.2")]
