"""A local Slack Web API for tests: `chat.postMessage` and `auth.test`, as slack-sdk calls them.

Point `slack_sdk.WebClient(token, base_url=server.api_url)` at it. Like Slack, it answers
HTTP 200 with `{"ok": false, "error": ...}` for refusals (`not_authed`, `invalid_auth`,
`channel_not_found`, `not_in_channel`, `is_archived`, `no_text`, `msg_too_long`), and
HTTP 429 with a `Retry-After` header and `{"ok": false, "error": "ratelimited"}` when a
test asks for rate limiting. Channels are known by id (`C...`) or name (`#team-a`); a
bot token can post only where the bot is a member. Posted messages are kept for tests.
Plain HTTP by default (slack-sdk accepts any base URL); `tls=True` serves HTTPS.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.servers.http_double import Faults, ListeningApp, RecordedResponse
from tests.servers.local_tls import local_tls

MAX_TEXT = 40_000  # Slack truncates past this and refuses far past it: msg_too_long
TEAM_ID, BOT_USER_ID, BOT_ID = "T0FAULTBOT", "U0FAULTBOT", "B0FAULTBOT"


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class Channel:
    id: str
    name: str
    bot_is_member: bool = True
    archived: bool = False


@dataclass(frozen=True)
class PostedMessage:
    """One message Slack accepted."""

    channel: Channel
    ts: str
    text: str | None
    blocks: Any
    thread_ts: str | None
    posted_at: datetime


class SlackServer:
    """One workspace; see the module docstring."""

    def __init__(self, tokens: tuple[str, ...] = ("xoxb-test-token",), clock: Callable[[], datetime] = _utcnow,
                 tls: bool = False) -> None:
        self.clock = clock
        self.faults = Faults()
        self._tokens = set(tokens)
        self._lock = threading.Condition()
        self._channels: dict[str, Channel] = {}
        self._messages: list[PostedMessage] = []
        self._responses: list[RecordedResponse] = []
        self._rate_limited: list[int] = []
        self._sequence = 0
        self.http = ListeningApp(_app(self), "slack-api", local_tls() if tls else None)

    @property
    def api_url(self) -> str:
        """The `base_url` for slack-sdk (Slack's https://slack.com/api/)."""
        return f"{self.http.url}/api/"

    def start(self) -> SlackServer:
        self.http.start()
        return self

    def stop(self) -> None:
        self.faults.release()
        self.http.stop()

    # -- the workspace ---------------------------------------------------------------
    def add_channel(self, name: str, bot_is_member: bool = True, archived: bool = False) -> Channel:
        with self._lock:
            channel = Channel(f"C{len(self._channels) + 1:08d}", name.lstrip("#"), bot_is_member, archived)
            self._channels[channel.id] = channel
            return channel

    def rate_limit_next(self, n: int, retry_after: int = 30) -> None:
        """The next `n` calls get 429 `ratelimited` with `Retry-After: retry_after`."""
        with self._lock:
            self._rate_limited.extend([retry_after] * n)

    # -- what happened -----------------------------------------------------------------
    @property
    def messages(self) -> list[PostedMessage]:
        with self._lock:
            return list(self._messages)

    @property
    def responses(self) -> list[RecordedResponse]:
        with self._lock:
            return list(self._responses)

    def wait_for_messages(self, count: int, timeout: float = 5.0) -> list[PostedMessage]:
        """Block until `count` messages arrived (for code that posts from another thread)."""
        with self._lock:
            self._lock.wait_for(lambda: len(self._messages) >= count, timeout)
            return list(self._messages)

    # -- used by the handlers ------------------------------------------------------------
    def take_rate_limit(self) -> int | None:
        with self._lock:
            return self._rate_limited.pop(0) if self._rate_limited else None

    def knows_token(self, token: str) -> bool:
        return token in self._tokens

    def channel(self, wanted: str) -> Channel | None:
        with self._lock:
            return self._channels.get(wanted) or next(
                (c for c in self._channels.values() if c.name == wanted.lstrip("#")), None)

    def post(self, channel: Channel, text: str | None, blocks: Any, thread_ts: str | None) -> PostedMessage:
        with self._lock:
            self._sequence += 1
            now = self.clock()
            message = PostedMessage(channel, f"{int(now.timestamp())}.{self._sequence:06d}", text, blocks,
                                    thread_ts, now)
            self._messages.append(message)
            self._lock.notify_all()
            return message

    def record(self, method: str, status: int, body: Any, headers: dict[str, str]) -> None:
        with self._lock:
            self._responses.append(RecordedResponse("POST", method, status, body, headers))


def _arguments(raw: bytes, content_type: str) -> dict[str, Any]:
    """Slack takes JSON bodies (slack-sdk's choice for chat.postMessage) or form fields."""
    if content_type.startswith("application/json"):
        parsed = json.loads(raw or b"{}")
        return parsed if isinstance(parsed, dict) else {}
    return dict(parse_qsl(raw.decode()))


def _post_message(server: SlackServer, args: dict[str, Any]) -> dict[str, Any]:
    channel = server.channel(str(args.get("channel", "")))
    if channel is None:
        return {"ok": False, "error": "channel_not_found"}
    if channel.archived:
        return {"ok": False, "error": "is_archived"}
    if not channel.bot_is_member:
        return {"ok": False, "error": "not_in_channel"}
    text, blocks = args.get("text"), args.get("blocks")
    if isinstance(blocks, str):  # form-encoded callers send blocks as a JSON string
        blocks = json.loads(blocks)
    if not text and not blocks and not args.get("attachments"):
        return {"ok": False, "error": "no_text"}
    if text and len(text) > MAX_TEXT:
        return {"ok": False, "error": "msg_too_long"}
    message = server.post(channel, text, blocks, args.get("thread_ts"))
    echoed = {"user": BOT_USER_ID, "type": "message", "ts": message.ts, "bot_id": BOT_ID, "text": text or "",
              "team": TEAM_ID}
    if blocks:
        echoed["blocks"] = blocks
    if message.thread_ts:
        echoed["thread_ts"] = message.thread_ts
    return {"ok": True, "channel": channel.id, "ts": message.ts, "message": echoed}


def _auth_test(server: SlackServer, args: dict[str, Any]) -> dict[str, Any]:
    return {"ok": True, "url": "https://faultbot-test.slack.invalid/", "team": "faultbot test", "user": "faultbot",
            "team_id": TEAM_ID, "user_id": BOT_USER_ID, "bot_id": BOT_ID, "is_enterprise_install": False}


METHODS: dict[str, Callable[[SlackServer, dict[str, Any]], dict[str, Any]]] = {
    "chat.postMessage": _post_message,
    "auth.test": _auth_test,
}


def _app(server: SlackServer) -> Starlette:
    async def call(request: Request) -> Response:
        method = request.path_params["method"]
        raw = await request.body()
        await server.faults.hang_if_queued()
        injected = server.faults.next_status()
        if injected is not None:
            server.record(method, injected, "outage", {})
            return Response(f"<html><body>{injected}</body></html>", injected, media_type="text/html")
        retry_after = server.take_rate_limit()
        if retry_after is not None:  # refused before anything is posted
            status, headers = 429, {"Retry-After": str(retry_after)}
            body: dict[str, Any] = {"ok": False, "error": "ratelimited"}
        else:
            status, headers = (200 if method in METHODS else 404), {}
            body = _answer(server, request, method, raw)
        server.record(method, status, body, headers)
        return Response(json.dumps(body), status, headers=headers, media_type="application/json; charset=utf-8")

    return Starlette(routes=[Route("/api/{method}", call, methods=["POST", "GET"])])


def _answer(server: SlackServer, request: Request, method: str, raw: bytes) -> dict[str, Any]:
    if method not in METHODS:
        return {"ok": False, "error": "unknown_method", "req_method": method}
    try:
        args = _arguments(raw, request.headers.get("content-type", ""))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {"ok": False, "error": "invalid_json"}
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip() if scheme.lower() == "bearer" else str(args.get("token", ""))
    if not token:
        return {"ok": False, "error": "not_authed"}
    if not server.knows_token(token):
        return {"ok": False, "error": "invalid_auth"}
    return METHODS[method](server, args)


@contextmanager
def serve_slack(tokens: tuple[str, ...] = ("xoxb-test-token",), clock: Callable[[], datetime] = _utcnow,
                tls: bool = False) -> Iterator[SlackServer]:
    """Run a Slack stand-in until the block exits."""
    server = SlackServer(tokens, clock, tls).start()
    try:
        yield server
    finally:
        server.stop()

