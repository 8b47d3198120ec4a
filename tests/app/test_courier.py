"""Notifications delivered at least once from the event log's outbox, to a local webhook
receiver and a local Slack: a receiver that is down delays only its own notices, a restart
re-sends exactly what was not acknowledged, and the team's messages never name the fault."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from bot.app.courier import Courier, make_senders
from bot.config import load_config
from bot.game import events as ev
from bot.game.notices import ORGANIZER, TEAM
from bot.notify.senders import SlackSender, WebhookSender, slack_client
from bot.store.eventlog import Store
from tests.app.live_event import FixedClock
from tests.servers.slack_api import serve_slack
from tests.servers.webhook_receiver import WebhookReceiver, serve_webhooks

FAULT = "db-unreachable/db-host-typo"
HINT = "The backend logs a DNS error when it connects. Which host is it looking up?"


def StepClock() -> FixedClock:  # noqa: N802 - reads like the class it makes
    return FixedClock(datetime(2026, 12, 5, 14, 0, tzinfo=timezone.utc))


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with serve_webhooks(require_headers={"authorization": "Bearer hook-secret"}) as running:
        yield running


OPEN: list[httpx.Client] = []


@pytest.fixture(autouse=True)
def close_clients() -> Iterator[None]:
    yield
    while OPEN:
        OPEN.pop().close()


def webhook(receiver: WebhookReceiver, path: str) -> WebhookSender:
    OPEN.append(httpx.Client(timeout=0.5))
    return WebhookSender(receiver.url(path), "hook-secret", OPEN[-1])


def play(store: Store, clock: StepClock) -> None:
    """A fault lands and a hint falls due (after the outbox was opened)."""
    store.append("team-a", ev.Landed(sha="a" * 40, persona="Kenji Sato"), fault=FAULT, at=clock.now())
    store.append("team-a", ev.Hint(0, HINT), fault=FAULT, at=clock.now())


def test_hints_reach_the_team_and_everything_the_organizers(store: Store, receiver: WebhookReceiver) -> None:
    clock = StepClock()
    courier = Courier(store, clock, {(TEAM, "team-a"): webhook(receiver, "/team-a"),
                                     (ORGANIZER, ""): webhook(receiver, "/organizers")})
    courier.open_outbox()
    play(store, clock)
    assert courier.deliver_once() == 3
    by_path = {(d.path, d.body["kind"]): d.body for d in receiver.deliveries}
    team = by_path[("/team-a", "hint")]
    assert team == {"id": team["id"], "audience": "team", "team": "team-a", "kind": "hint", "incident": 1,
                    "text": f"Hint for incident 1: {HINT}", "at": "2026-12-05T14:00:00+00:00"}
    assert "db-host-typo" not in repr(team) and "DB_HOST" not in repr(team)
    assert by_path[("/organizers", "injected")]["fault"] == FAULT
    assert all(d.headers["x-faultbot-notice"] == d.body["id"] for d in receiver.deliveries)
    assert courier.deliver_once() == 0  # acknowledged: not sent again
    assert len(store.events(kinds=(ev.Kind.DELIVERED,))) == 3


def test_a_receiver_down_never_stops_anything_and_a_restart_resends_what_was_not_acknowledged(
        store: Store, receiver: WebhookReceiver) -> None:
    clock = StepClock()
    routes = {(TEAM, "team-a"): webhook(receiver, "/team-a"), (ORGANIZER, ""): webhook(receiver, "/organizers")}
    first = Courier(store, clock, routes)
    first.open_outbox()
    play(store, clock)
    receiver.http.down()
    try:
        assert first.deliver_once() == 0  # refused connections: logged, nothing raised
        clock.moment += timedelta(seconds=1)
        assert first.deliver_once() == 0  # backing off: not even tried
    finally:
        receiver.http.up()
    receiver.faults.fail_next(1, 500)  # the first notice's next try is refused by the receiver
    clock.moment += timedelta(minutes=1)
    assert first.deliver_once() == 2
    assert len(receiver.deliveries) == 2
    # The daemon restarts: a new courier over the same log sends only the one still pending.
    second = Courier(store, clock, routes)
    second.open_outbox()  # already open: the first mark stands
    assert len(store.events(kinds=(ev.Kind.OUTBOX,))) == 1
    assert second.deliver_once() == 1
    assert sorted(d.body["id"] for d in receiver.deliveries) == sorted({n.facts.notice for n in  # type: ignore[attr-defined]
                                                                         store.events(kinds=(ev.Kind.DELIVERED,))})
    assert second.deliver_once() == 0


def test_a_receiver_that_answers_too_late_gets_the_notice_again(store: Store, receiver: WebhookReceiver) -> None:
    clock = StepClock()
    courier = Courier(store, clock, {(TEAM, "team-a"): webhook(receiver, "/team-a")})
    courier.open_outbox()
    play(store, clock)
    receiver.faults.hang_next(1, seconds=2)  # handled, but after the client gave up
    assert courier.deliver_once() == 0
    receiver.wait_for(1, timeout=5)
    clock.moment += timedelta(minutes=1)
    assert courier.deliver_once() == 1
    ids = [d.body["id"] for d in receiver.deliveries]
    assert len(ids) == 2 and len(set(ids)) == 1  # at least once: the id lets the receiver drop the twin


def test_slack_channels_through_slack_sdk(store: Store) -> None:
    clock = StepClock()
    with serve_slack() as slack:
        slack.add_channel("#team-a")
        slack.add_channel("#organizers", bot_is_member=False)
        client = slack_client("xoxb-test-token", slack.api_url)
        courier = Courier(store, clock, {(TEAM, "team-a"): SlackSender(client, "#team-a"),
                                         (ORGANIZER, ""): SlackSender(client, "#organizers")})
        courier.open_outbox()
        play(store, clock)
        assert courier.deliver_once() == 1  # the organizers' channel refuses: not_in_channel
        [posted] = slack.messages
        assert (posted.channel.name, posted.text) == ("team-a", f"Hint for incident 1: {HINT}")
        slack.rate_limit_next(2, retry_after=120)  # the organizers' new line and the team's hint
        store.append("team-a", ev.Hint(1, "second hint"), fault=FAULT, at=clock.now())
        assert courier.deliver_once() == 0
        clock.moment += timedelta(seconds=60)
        assert courier.deliver_once() == 0  # Slack asked for 120 s
        clock.moment += timedelta(seconds=61)
        assert courier.deliver_once() == 1
        assert [m.text for m in slack.messages][-1] == "Hint for incident 1: second hint"


def test_routes_come_from_repos_yaml(tmp_path: Path) -> None:
    config_path = tmp_path / "repos.yaml"
    config_path.write_text(
        "event: {name: e}\n"
        "notify:\n  webhook_token_env: HOOK_TOKEN\n  organizer: {slack_channel: '#organizers'}\n"
        "teams:\n"
        "  - {name: team-a, url: 'file:///x/a.git', notify: {webhook_url: 'http://127.0.0.1:9/hooks/a'}}\n"
        "  - {name: team-b, url: 'file:///x/b.git', notify: {slack_channel: '#team-b'}}\n"
        "  - {name: team-c, url: 'file:///x/c.git'}\n", encoding="utf-8")
    config, _ = load_config(config_path)
    senders = make_senders(config, {"HOOK_TOKEN": "t", "SLACK_BOT_TOKEN": "xoxb-1"})
    assert {key: sender.name for key, sender in senders.items()} == {
        (TEAM, "team-a"): "webhook:127.0.0.1", (TEAM, "team-b"): "slack:#team-b", (ORGANIZER, ""): "slack:#organizers"}
