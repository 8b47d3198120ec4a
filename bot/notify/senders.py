"""The two ways a notice leaves faultbot, behind one small protocol.

* `SlackSender` posts to a channel with slack-sdk's `chat_postMessage` (always with
  `text`, so clients and screen readers have it). Slack refuses with HTTP 200 and an
  `error` (`channel_not_found`, `not_in_channel`, `invalid_auth`...), rate-limits with 429
  and `Retry-After`; its client raises `SlackApiError` for all of them and `URLError` /
  `TimeoutError` for the network.
* `WebhookSender` POSTs the notice's JSON body (`Notice.body()`, documented in the
  README) to a URL, optionally with `Authorization: Bearer <token>`; any 2xx is an
  acknowledgement.

Both raise `NotDelivered` for every failure, saying whether retrying can help and how
long to wait when the receiver said so; the courier decides when to try again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import httpx

from bot.errors import FaultbotError
from bot.game.notices import Notice

if TYPE_CHECKING:  # slack-sdk (~0.1 s to import) loads only for an event that posts to Slack
    from slack_sdk import WebClient

TIMEOUT_S = 10
PERMANENT_SLACK_ERRORS = frozenset({"not_authed", "invalid_auth", "channel_not_found", "not_in_channel",
                                    "is_archived", "account_inactive", "token_revoked", "msg_too_long"})


class NotDelivered(FaultbotError):
    """A receiver did not take a notice; `retry_after` seconds where it said so."""

    def __init__(self, message: str, *, permanent: bool = False, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after


class Sender(Protocol):
    """Delivers one notice; returns the receiver's receipt (a message ts, a status)."""

    name: str

    def send(self, notice: Notice) -> str:
        """Deliver or raise NotDelivered."""


class SlackSender:
    """One Slack channel through slack-sdk."""

    def __init__(self, client: WebClient, channel: str) -> None:
        self.client, self.channel = client, channel
        self.name = f"slack:{channel}"

    def send(self, notice: Notice) -> str:
        """Post the notice's text to the channel."""
        from slack_sdk.errors import SlackApiError

        try:
            response = self.client.chat_postMessage(channel=self.channel, text=notice.text)
        except SlackApiError as exc:
            status = exc.response.status_code
            error = str(exc.response.get("error") if status == 200 else f"HTTP {status}")
            retry = exc.response.headers.get("Retry-After") if status == 429 else None
            raise NotDelivered(f"Slack refused the message for {self.channel}: {error}",
                               permanent=error in PERMANENT_SLACK_ERRORS,
                               retry_after=float(retry) if retry and str(retry).isdigit() else None) from None
        except OSError as exc:  # URLError (closed port), TimeoutError (no answer in time)
            raise NotDelivered(f"Slack unreachable for {self.channel}: {exc.__class__.__name__}") from None
        return str(response.get("ts") or "ok")


def slack_client(token: str, api_url: str) -> WebClient:
    """A WebClient with a bounded timeout (its default waits 30 s)."""
    from slack_sdk import WebClient

    return WebClient(token=token, base_url=api_url, timeout=TIMEOUT_S)


class WebhookSender:
    """A generic JSON webhook."""

    def __init__(self, url: str, token: str | None = None, client: httpx.Client | None = None) -> None:
        self.url, self.token = url, token
        self.client = client or httpx.Client(timeout=TIMEOUT_S)
        self.name = f"webhook:{httpx.URL(url).host}"

    def send(self, notice: Notice) -> str:
        """POST the notice's JSON body; any 2xx counts as received."""
        headers = {"user-agent": "faultbot", "x-faultbot-notice": notice.id}
        if self.token:
            headers["authorization"] = f"Bearer {self.token}"
        try:
            response = self.client.post(self.url, json=notice.body(), headers=headers)
        except httpx.HTTPError as exc:
            raise NotDelivered(f"webhook {self.name} unreachable: {exc.__class__.__name__}") from None
        if not response.is_success:
            retry = response.headers.get("retry-after")
            raise NotDelivered(f"webhook {self.name} answered HTTP {response.status_code}",
                               permanent=response.status_code in (400, 401, 403, 404, 410),
                               retry_after=float(retry) if retry and retry.isdigit() else None)
        return f"HTTP {response.status_code}"

    def close(self) -> None:
        """Release connections."""
        self.client.close()
