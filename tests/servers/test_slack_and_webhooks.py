"""The local Slack (through slack-sdk's WebClient) and the generic webhook receiver.

The Slack tests pin what slack-sdk does with each answer, which faultbot's notifier
will rely on: refusals arrive as SlackApiError with HTTP 200 and `error` set, a rate
limit as SlackApiError with 429 and `Retry-After` (the default client does not retry
it), outages as SlackApiError with the 5xx status, a closed port as URLError.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import nullcontext
from urllib.error import URLError

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from tests.servers.local_tls import local_tls
from tests.servers.slack_api import SlackServer, serve_slack
from tests.servers.webhook_receiver import WebhookReceiver, serve_webhooks

TOKEN = "xoxb-test-token"


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    with serve_slack((TOKEN,)) as server:
        server.add_channel("team-a")
        server.add_channel("team-b", bot_is_member=False)
        server.add_channel("old", archived=True)
        yield server


def web_client(server: SlackServer, token: str | None = TOKEN, **settings: object) -> WebClient:
    return WebClient(token=token, base_url=server.api_url, **settings)  # type: ignore[arg-type]


def test_post_message_by_channel_name_or_id(slack: SlackServer) -> None:
    client = web_client(slack)
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "Hint: *look at the ingress*"}}]
    first = client.chat_postMessage(channel="#team-a", text="Hint: look at the ingress", blocks=blocks)
    assert first["ok"] is True and first["channel"] == "C00000001"
    assert first["message"]["text"] == "Hint: look at the ingress"
    reply = client.chat_postMessage(channel=first["channel"], text="and the service port", thread_ts=first["ts"])
    assert [(m.channel.name, m.text, m.thread_ts) for m in slack.messages] == [
        ("team-a", "Hint: look at the ingress", None), ("team-a", "and the service port", first["ts"])]
    assert slack.messages[0].blocks == blocks
    assert reply["ts"] != first["ts"]
    assert client.auth_test()["bot_id"]


@pytest.mark.parametrize(("token", "channel", "text", "error"), [
    (None, "#team-a", "x", "not_authed"),
    ("xoxb-wrong", "#team-a", "x", "invalid_auth"),
    (TOKEN, "#nope", "x", "channel_not_found"),
    (TOKEN, "#team-b", "x", "not_in_channel"),
    (TOKEN, "#old", "x", "is_archived"),
    (TOKEN, "#team-a", "", "no_text"),
    (TOKEN, "#team-a", "x" * 40_001, "msg_too_long"),
])
def test_refusals_are_ok_false_with_http_200(slack: SlackServer, token: str | None, channel: str, text: str,
                                              error: str) -> None:
    # slack-sdk warns before sending a message without text; the server still gets it.
    with pytest.raises(SlackApiError) as raised, pytest.warns(UserWarning) if not text else nullcontext():
        web_client(slack, token).chat_postMessage(channel=channel, text=text)
    assert raised.value.response.status_code == 200
    assert raised.value.response["error"] == error
    assert slack.messages == []


def test_a_token_in_a_form_body_is_accepted(slack: SlackServer) -> None:
    answer = httpx.post(slack.api_url + "chat.postMessage", data={"token": TOKEN, "channel": "team-a", "text": "hi"})
    assert (answer.status_code, answer.json()["ok"]) == (200, True)


def test_rate_limit_is_a_429_the_default_client_does_not_retry(slack: SlackServer) -> None:
    slack.rate_limit_next(1, retry_after=30)
    with pytest.raises(SlackApiError) as raised:
        web_client(slack).chat_postMessage(channel="#team-a", text="hint")
    response = raised.value.response
    assert (response.status_code, response["error"], response.headers["Retry-After"]) == (429, "ratelimited", "30")
    assert slack.messages == []  # nothing was posted
    assert web_client(slack).chat_postMessage(channel="#team-a", text="hint")["ok"]


def test_outages_closed_port_and_hangs(slack: SlackServer) -> None:
    client = web_client(slack, retry_handlers=[], timeout=0.3)
    slack.faults.fail_next(1, 503)
    with pytest.raises(SlackApiError) as outage:
        client.chat_postMessage(channel="#team-a", text="hint")
    assert outage.value.response.status_code == 503

    slack.http.down()
    with pytest.raises(URLError):
        client.chat_postMessage(channel="#team-a", text="hint")
    slack.http.up()

    slack.faults.hang_next(1, seconds=30)
    with pytest.raises(TimeoutError):
        client.chat_postMessage(channel="#team-a", text="hint")
    slack.faults.release()
    assert len(slack.wait_for_messages(1)) == 1  # handled once released, though its client gave up
    assert client.chat_postMessage(channel="#team-a", text="hint")["ok"]  # the client's retry
    assert [m.text for m in slack.messages] == ["hint", "hint"]  # at-least-once: a duplicate


def test_slack_over_https(slack: SlackServer) -> None:
    with serve_slack((TOKEN,), tls=True) as secure:
        secure.add_channel("team-a")
        client = WebClient(token=TOKEN, base_url=secure.api_url, ssl=local_tls().client_context())
        assert secure.api_url.startswith("https://")
        assert client.chat_postMessage(channel="#team-a", text="hint")["ok"]


# -- the generic webhook receiver ------------------------------------------------------------
@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with serve_webhooks({"X-Faultbot-Token": "s3cret"}) as opened:
        yield opened


def test_webhook_records_json_and_refuses_the_rest(receiver: WebhookReceiver) -> None:
    headers = {"X-Faultbot-Token": "s3cret"}
    event = {"kind": "hint", "team": "team-a", "text": "Look at the ingress"}
    assert httpx.post(receiver.url(), json=event, headers=headers).json() == {"ok": True}
    assert httpx.post(receiver.url("/hooks/organizers"), json={"kind": "injected"}, headers=headers).status_code == 200
    assert httpx.post(receiver.url(), json=event).status_code == 401
    assert httpx.post(receiver.url(), content=b"not json", headers=headers).status_code == 400
    assert [(d.path, d.body) for d in receiver.deliveries] == [
        ("/hooks/faultbot", event), ("/hooks/organizers", {"kind": "injected"})]
    assert receiver.refused == [("/hooks/faultbot", 401), ("/hooks/faultbot", 400)]


def test_webhook_fails_hangs_and_goes_down_on_request(receiver: WebhookReceiver) -> None:
    headers = {"X-Faultbot-Token": "s3cret"}
    receiver.faults.fail_next(2, 500)
    assert [httpx.post(receiver.url(), json={"n": n}, headers=headers).status_code for n in range(3)] == [500, 500, 200]
    receiver.http.down()
    with pytest.raises(httpx.ConnectError):
        httpx.post(receiver.url(), json={"n": 3}, headers=headers)
    receiver.http.up()
    receiver.faults.hang_next(1)
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(receiver.url(), json={"n": 4}, headers=headers, timeout=0.3)
    receiver.faults.release()
    sender = threading.Thread(target=httpx.post, args=(receiver.url(),), kwargs={"json": {"n": 5}, "headers": headers})
    sender.start()
    receiver.wait_for(3)
    sender.join()
    assert sorted(d.body["n"] for d in receiver.deliveries) == [2, 4, 5]  # 4 was handled when released
