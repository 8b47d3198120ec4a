"""bot.pager against the local PagerDuty (HTTPS, the official client), every answer checked
against PagerDuty's published REST subset: MTTA from the first acknowledgement, who, the
resolve, notes and status updates; every failure one PagerUnavailable, nothing partial."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from bot.config import PagerDutySettings
from bot.errors import FaultbotError
from bot.pager.pagerduty import PagerDuty, PagerUnavailable
from tests.servers.openapi_contract import OpenAPIContract
from tests.servers.pagerduty_contract import PAGERDUTY_REST_SUBSET, rest_contract
from tests.servers.pagerduty_world import PagerDutyWorld, StepClock, open_world
from tests.shared_files import require


@pytest.fixture
def world() -> Iterator[PagerDutyWorld]:
    with open_world(StepClock()) as opened:
        yield opened


def reader(world: PagerDutyWorld, key: str | None = None) -> PagerDuty:
    settings = PagerDutySettings(api_url=world.server.rest_url)
    return PagerDuty(settings, key or world.readonly_key, verify=world.tls, sleep_timer=0.001)


def assert_contract_kept(world: PagerDutyWorld) -> None:
    require(PAGERDUTY_REST_SUBSET)
    contract: OpenAPIContract = rest_contract()
    checked = 0
    for response in world.server.responses:
        if contract.has_operation(response.method, response.operation) and not isinstance(response.body, str):
            assert contract.violations(response.method, response.operation, response.status, response.body) == []
            checked += 1
    assert checked > 0


def test_one_incident_read_in_full(world: PagerDutyWorld) -> None:
    server, clock = world.server, world.clock
    server.trigger(world.team_a, "before the fault")
    shipped = clock.advance(minutes=5)
    clock.advance(minutes=1)
    incident = server.trigger(world.team_a, "chat answers 502")
    server.trigger(world.team_b, "another team's")
    clock.advance(minutes=2, seconds=30)
    server.acknowledge(incident.id, world.alice)
    clock.advance(minutes=1)
    server.add_note(incident.id, world.alice, "Ingress 502s, looking at the Service")
    clock.advance(minutes=1)
    server.post_status_update(incident.id, world.alice, "Rolling back the last deploy")
    clock.advance(minutes=30)
    server.unacknowledge(incident.id)
    server.acknowledge(incident.id, world.bob)  # a second acknowledgement: the first one counts
    clock.advance(minutes=2)
    server.resolve(incident.id, world.bob)

    pd = reader(world)
    try:
        [found] = pd.incidents(world.team_a.id, shipped)
    finally:
        pd.close()
    assert (found.incident_id, found.number) == (incident.id, incident.number)
    assert found.opened_at == shipped + timedelta(minutes=1)
    assert found.acknowledged_at - found.opened_at == timedelta(minutes=2, seconds=30)  # type: ignore[operator]
    assert (found.acknowledged_by, found.acknowledged_by_person) == ("Alice Ng", True)
    assert (found.resolved_by, found.resolved_at) == ("Bob Roy", clock.now())
    assert [(m.kind, m.by, m.text, m.at - found.opened_at) for m in found.messages] == [  # type: ignore[operator]
        ("note", "Alice Ng", "Ingress 502s, looking at the Service", timedelta(minutes=3, seconds=30)),
        ("status_update", "Alice Ng", "Rolling back the last deploy", timedelta(minutes=4, seconds=30))]
    assert_contract_kept(world)


def test_an_acknowledgement_by_monitoring_is_not_a_persons(world: PagerDutyWorld) -> None:
    import pagerduty

    with pagerduty.EventsApiV2Client(world.team_a.integration_key, base_url=world.server.events_url,
                                     verify=world.tls) as monitoring:
        key = monitoring.trigger("chat answers 502", "probe.team-a")
        world.clock.advance(minutes=1)
        monitoring.acknowledge(key)
    pd = reader(world)
    [found] = pd.incidents(world.team_a.id, world.clock.now() - timedelta(minutes=5))
    pd.close()
    assert found.acknowledged_by_person is False and found.acknowledged_at is not None


@pytest.mark.parametrize("breakage", ["rate-limit", "5xx", "closed-port", "hang", "bad-key"])
def test_every_failure_is_one_pager_unavailable_and_nothing_partial(world: PagerDutyWorld, breakage: str) -> None:
    server = world.server
    server.trigger(world.team_a, "chat answers 502")
    since = world.clock.now() - timedelta(minutes=1)
    pd = reader(world, "wrong-key-but-long-enough" if breakage == "bad-key" else None)
    pd.client.timeout = 0.5
    if breakage == "rate-limit":
        for _ in range(960):
            server.rest_limit.take(f"key:{world.readonly_key}")
    elif breakage == "5xx":
        server.rest_faults.fail_next(2, 503)
    elif breakage == "hang":
        server.rest_faults.hang_next(1, seconds=5)
    elif breakage == "closed-port":
        server.rest.down()
    try:
        with pytest.raises(PagerUnavailable) as raised:
            pd.incidents(world.team_a.id, since)
    finally:
        server.rest_faults.release()
        if breakage == "closed-port":
            server.rest.up()
        pd.close()
    assert isinstance(raised.value, FaultbotError) and "wrong-key" not in raised.value.message
    if breakage == "rate-limit":
        assert raised.value.retry_after is not None and raised.value.retry_after > 0
        assert [r.status for r in server.responses][-2:] == [429, 429]  # one retry, not forever


def test_a_listing_that_fails_half_way_returns_nothing(world: PagerDutyWorld) -> None:
    for n in range(3):
        world.server.trigger(world.team_a, f"incident {n}")
    since = world.clock.now() - timedelta(minutes=1)
    pd = reader(world)
    real_rget = pd.client.rget
    calls = []

    def second_notes_call_fails(path: str, **kwargs: object) -> object:
        calls.append(path)
        if len(calls) == 2:
            world.server.rest_faults.fail_next(1, 500)
        return real_rget(path, **kwargs)

    pd.client.rget = second_notes_call_fails  # type: ignore[method-assign]
    with pytest.raises(PagerUnavailable):
        pd.incidents(world.team_a.id, since)
    pd.close()


def test_a_plain_http_url_and_an_empty_token_are_refused_in_one_line() -> None:
    with pytest.raises(ValueError, match="only speaks https://"):
        PagerDutySettings(api_url="http://127.0.0.1:1")
    with pytest.raises(FaultbotError, match=r"pagerduty.token_env: \$PAGERDUTY_TOKEN is empty or not set"):
        PagerDuty(PagerDutySettings(), "")
