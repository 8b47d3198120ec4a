"""PagerDuty polled for a team and folded into its fault instances: MTTA and communication as
typed events; a rate limit or an outage marks the data stale and never changes a number."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.app.cli import main
from bot.app.paging import PagerPoller
from bot.config import PagerDutySettings
from bot.game import events as ev
from bot.game.timeline import FaultInstance, fold
from bot.pager.pagerduty import PagerDuty
from bot.store.eventlog import Store
from tests.gitrepos import make_team_repo
from tests.servers.local_tls import local_tls
from tests.servers.pagerduty_world import PagerDutyWorld, StepClock, open_world

FIRST, SECOND = "web-unreachable/service-selector-typo", "db-unreachable/db-host-typo"


@pytest.fixture
def world() -> Iterator[PagerDutyWorld]:
    with open_world(StepClock()) as opened:
        yield opened


@pytest.fixture
def poller(world: PagerDutyWorld, store: Store) -> Iterator[PagerPoller]:
    source = PagerDuty(PagerDutySettings(api_url=world.server.rest_url), world.readonly_key, verify=world.tls,
                       sleep_timer=0.001)
    source.client.timeout = 1
    yield PagerPoller("team-a", world.team_a.id, source, store, world.clock)
    source.close()


def land(store: Store, world: PagerDutyWorld, fault: str) -> None:
    now = world.clock.now()
    store.append("team-a", ev.Landed(sha="a" * 40, pushed_at=now, persona="Kenji Sato"), fault=fault, at=now)


def instance(store: Store, fault: str = FIRST) -> FaultInstance:
    return next(i for i in fold(store.events("team-a")) if i.fault == fault)


def pager_events(store: Store) -> list[ev.Event]:
    return store.events("team-a", kinds=(ev.Kind.PAGER,))


def test_mtta_and_communication_are_recorded_once_per_change(world: PagerDutyWorld, store: Store,
                                                            poller: PagerPoller) -> None:
    server, clock = world.server, world.clock
    server.trigger(world.team_a, "an incident from before the fault")
    clock.advance(minutes=1)
    land(store, world, FIRST)
    clock.advance(minutes=1)
    incident = server.trigger(world.team_a, "chat answers 502")
    clock.advance(minutes=2)
    server.acknowledge(incident.id, world.alice)
    poller.refresh()
    assert instance(store).mtta_s == 120.0 and instance(store).pager.acknowledged_by == "Alice Ng"  # type: ignore[union-attr]
    poller.refresh()
    assert len(pager_events(store)) == 1  # nothing changed, nothing recorded
    clock.advance(minutes=1)
    server.post_status_update(incident.id, world.alice, "We rolled back; watching")
    poller.refresh()
    assert len(pager_events(store)) == 2 and instance(store).first_update_s == 180.0
    assert instance(store).as_json()["incident"]["messages"][0]["text"] == "We rolled back; watching"


def test_the_next_faults_incident_is_the_next_faults(world: PagerDutyWorld, store: Store, poller: PagerPoller) -> None:
    server, clock = world.server, world.clock
    land(store, world, FIRST)
    first = server.trigger(world.team_a, "chat answers 502")
    clock.advance(minutes=1)
    server.acknowledge(first.id, world.alice)
    clock.advance(minutes=10)
    land(store, world, SECOND)
    clock.advance(minutes=1)
    second = server.trigger(world.team_a, "API errors")
    clock.advance(minutes=4)
    server.acknowledge(second.id, world.bob)
    poller.refresh()
    assert (instance(store, FIRST).pager.incident_id, instance(store, FIRST).mtta_s) == (first.id, 60.0)  # type: ignore[union-attr]
    assert (instance(store, SECOND).pager.incident_id, instance(store, SECOND).mtta_s) == (second.id, 240.0)  # type: ignore[union-attr]


def test_a_rate_limit_makes_the_data_stale_and_waits_for_the_reset(world: PagerDutyWorld, store: Store,
                                                                  poller: PagerPoller) -> None:
    server, clock = world.server, world.clock
    land(store, world, FIRST)
    incident = server.trigger(world.team_a, "chat answers 502")
    clock.advance(minutes=2)
    server.acknowledge(incident.id, world.alice)
    poller.refresh()
    before = instance(store)
    for _ in range(960):
        server.rest_limit.take(f"key:{world.readonly_key}")
    clock.advance(seconds=1)
    server.add_note(incident.id, world.bob, "a note PagerDuty cannot tell us about yet")
    poller.refresh()
    stale = instance(store)
    assert stale.stale == ("pagerduty",) and stale.pager == before.pager and stale.mtta_s == 120.0
    asked = len(server.requests)
    poller.refresh()  # inside the reset window: PagerDuty is not asked again
    assert len(server.requests) == asked
    assert len(store.events("team-a", kinds=(ev.Kind.STALE,))) == 1
    clock.advance(seconds=61)
    poller.refresh()
    fresh = instance(store)
    assert fresh.stale == () and [m.text for m in fresh.pager.messages] == [  # type: ignore[union-attr]
        "a note PagerDuty cannot tell us about yet"]


def test_an_outage_is_stale_not_wrong(world: PagerDutyWorld, store: Store, poller: PagerPoller) -> None:
    server, clock = world.server, world.clock
    land(store, world, FIRST)
    incident = server.trigger(world.team_a, "chat answers 502")
    clock.advance(minutes=3)
    server.acknowledge(incident.id, world.alice)
    poller.refresh()
    server.rest.down()
    try:
        clock.advance(minutes=1)
        poller.refresh()
        assert instance(store).stale == ("pagerduty",) and instance(store).mtta_s == 180.0
    finally:
        server.rest.up()
    server.rest_faults.fail_next(1, 500)
    clock.advance(seconds=10)
    asked = len(server.requests)
    poller.refresh()  # inside the back-off: PagerDuty is not asked
    assert len(server.requests) == asked
    clock.advance(seconds=30)
    poller.refresh()  # PagerDuty answers 500 itself
    assert instance(store).stale == ("pagerduty",) and instance(store).mtta_s == 180.0
    clock.advance(seconds=31)
    poller.refresh()
    assert instance(store).stale == () and instance(store).mtta_s == 180.0
    assert [type(e.facts).__name__ for e in store.events("team-a", kinds=(ev.Kind.STALE, ev.Kind.FRESH))] == [
        "Stale", "Fresh"]


def test_a_fault_long_over_is_not_read_again(world: PagerDutyWorld, store: Store, poller: PagerPoller) -> None:
    land(store, world, FIRST)
    world.clock.advance(minutes=5)
    store.append("team-a", ev.Fixed(sha="b" * 40, kind="revert", fixed_at=world.clock.now()), fault=FIRST,
                 at=world.clock.now())
    world.clock.advance(hours=2)
    poller.refresh()
    assert world.server.requests == []


def test_status_reads_pagerduty_as_repos_yaml_configures_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """The whole path from repos.yaml (api_url, token_env, ca_bundle, pagerduty_service) to the MTTA
    `faultbot status` shows: the same reads the daemon makes, made once by the command."""
    ca_bundle = tmp_path / "local-ca.pem"
    local_tls().authority.cert_pem.write_to_path(str(ca_bundle))
    remote = make_team_repo(tmp_path)
    clock = StepClock(datetime.now(timezone.utc) + timedelta(minutes=1))  # the server's clock, after the injection
    with open_world(clock) as world:
        monkeypatch.setenv("PD_READONLY_KEY", world.readonly_key)
        config = tmp_path / "repos.yaml"
        config.write_text(
            "event: {name: t, state: sqlite:///state.db}\n"
            f"pagerduty: {{api_url: '{world.server.rest_url}', token_env: PD_READONLY_KEY, ca_bundle: '{ca_bundle}'}}\n"
            f"teams:\n  - name: team-a\n    url: {remote.url}\n    pagerduty_service: {world.team_a.id}\n",
            encoding="utf-8")
        assert main(["inject", "--config", str(config), "team-a", FIRST, "--json"]) == 0
        incident = world.server.trigger(world.team_a, "chat answers 502")
        clock.advance(minutes=3)
        world.server.acknowledge(incident.id, world.alice)
        capsys.readouterr()
        assert main(["status", "--config", str(config), "--json", "--cached"]) == 0
        (cached,) = json.loads(capsys.readouterr().out)
        assert cached["incident"] is None  # --cached reads nothing: only the state
        assert main(["status", "--config", str(config), "--json"]) == 0
        (fresh,) = json.loads(capsys.readouterr().out)
    assert fresh["fault"] == FIRST and fresh["incident"]["acknowledged_by"] == "Alice Ng"
    assert fresh["mtta_s"] == 180.0
