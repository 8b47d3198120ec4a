"""Webhook deliveries from someone who is not GitHub, or signed but malformed (issue 15 item 6).

Against a real uvicorn server: a body over the cap is refused before it is read (the server
answers while the client has sent only a few bytes of it); a validly signed body that is not
a push payload gets 400 with a JSON answer and a JSON log line, nothing reaches the daemon,
and nothing prints a traceback.
"""

from __future__ import annotations

import json
import logging
import socket

import httpx
import pytest
from starlette.applications import Starlette

from bot.web.server import BackgroundServer
from bot.web.webhooks import signature, webhook_route

SECRET = "It's a Secret to Everybody"
REPO = "pd-cup/team-a"
HOSTILE = {
    "a list": b"[1,2,3]",
    "null": b"null",
    "a string repository": b'{"repository":"x"}',
    "a repository without full_name": b'{"ref":"refs/heads/main","after":"abc","repository":{}}',
    "deeply nested arrays": b"[" * 100_000 + b"]" * 100_000,
    "not JSON": b"\xff\xfe not json",
    "a number where a name goes": b'{"ref":"r","after":"a","repository":{"full_name":7}}',
}


def _app(calls: list[tuple[str, str]], max_body: int = 25 * 1024 * 1024) -> Starlette:
    return Starlette(routes=[webhook_route(SECRET, {REPO: "team-a"}, lambda d: calls.append((d.team, d.event)),
                                           max_body=max_body)])


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_signed_body_of_the_wrong_shape_is_a_400_with_a_json_line(
    name: str, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    body = HOSTILE[name]
    calls: list[tuple[str, str]] = []
    with caplog.at_level(logging.WARNING, logger="faultbot.webhooks"), BackgroundServer(_app(calls)) as server:
        response = httpx.post(f"{server.url}/webhooks/github", content=body, timeout=30, headers={
            "X-GitHub-Event": "push", "X-Hub-Signature-256": signature(SECRET, body)})
    assert response.status_code == 400 and calls == []
    assert set(response.json()) == {"error"}
    (record,) = [r for r in caplog.records if r.name == "faultbot.webhooks"]
    assert record.getMessage() == "webhook refused" and record.__dict__["status"] == 400
    assert "Traceback" not in capfd.readouterr().err


def test_a_body_over_the_cap_is_refused_before_it_is_read() -> None:
    calls: list[tuple[str, str]] = []
    with BackgroundServer(_app(calls, max_body=1024)) as server, \
            socket.create_connection((server.host, server.port), timeout=10) as raw:
        # 200 MB announced, 10 bytes sent: a server that read before refusing would wait here.
        raw.sendall(b"POST /webhooks/github HTTP/1.1\r\nHost: x\r\nContent-Length: 209715200\r\n"
                    b"X-GitHub-Event: push\r\nContent-Type: application/json\r\n\r\n0123456789")
        head = raw.recv(4096).decode("latin-1")
    assert head.startswith("HTTP/1.1 413") and calls == []


def test_a_streamed_body_over_the_cap_is_refused_without_keeping_it() -> None:
    calls: list[tuple[str, str]] = []
    chunk = b"x" * 4096

    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(64):  # 256 KiB, no Content-Length (chunked)
            yield chunk

    with BackgroundServer(_app(calls, max_body=16 * 1024)) as server:
        response = httpx.post(f"{server.url}/webhooks/github", content=chunks(), timeout=30,
                              headers={"X-GitHub-Event": "push"})
    assert response.status_code == 413 and calls == []
    assert "25 MB" in response.json()["error"]


def test_an_unsigned_body_of_any_shape_is_a_401_not_a_400() -> None:
    calls: list[tuple[str, str]] = []
    with BackgroundServer(_app(calls)) as server:
        response = httpx.post(f"{server.url}/webhooks/github", content=b"[1,2,3]", timeout=30,
                              headers={"X-GitHub-Event": "push"})
    assert response.status_code == 401 and calls == []


def test_a_good_push_still_reaches_the_daemon() -> None:
    calls: list[tuple[str, str]] = []
    body = json.dumps({"ref": "refs/heads/main", "after": "0" * 40, "repository": {"full_name": REPO}}).encode()
    with BackgroundServer(_app(calls)) as server:
        response = httpx.post(f"{server.url}/webhooks/github", content=body, timeout=30, headers={
            "X-GitHub-Event": "push", "X-Hub-Signature-256": signature(SECRET, body)})
    assert response.status_code == 202 and calls == [("team-a", "push")]
