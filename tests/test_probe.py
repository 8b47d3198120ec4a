"""HTTP probes against a tiny local web server: pass, wrong status, wrong text, slow, gone."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from bot.config import Probe
from bot.deploy.probe import probe

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=timezone.utc)


class _Site(BaseHTTPRequestHandler):
    """`/` is the chat app's front page; `/broken` a 503; `/slow` and `/drip` hang."""

    def do_GET(self) -> None:
        if self.path == "/slow":
            time.sleep(1.5)
        if self.path == "/drip":
            self._send(200, b"")
            for _ in range(15):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(0.1)
            return
        if self.path == "/broken":
            self._send(503, b"upstream connect error")
            return
        self._send(200, b"<h1>Welcome to chat</h1>")

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        if self.path != "/drip":
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client() as http:
        yield http


class FixedClock:
    def now(self) -> datetime:
        return T0

    def to_real(self, moment: datetime) -> datetime:
        return moment


def spec(url: str, **fields: object) -> Probe:
    """A probe as repos.yaml would give it (timeouts in seconds, like `timeout: 0.3`)."""
    return Probe.model_validate({"url": url, **fields})


def test_status_match(site: str, client: httpx.Client) -> None:
    result = probe(client, spec(site + "/"), FixedClock())
    assert (result.ok, result.status, result.reason, result.observed_at) == (True, 200, "200 OK", T0)
    assert 0 <= result.elapsed_s < 1


def test_status_mismatch(site: str, client: httpx.Client) -> None:
    result = probe(client, spec(site + "/broken"))
    assert not result.ok and result.status == 503
    assert result.reason == "expected status 200, got 503 Service Unavailable"


def test_expected_status_other_than_200(site: str, client: httpx.Client) -> None:
    assert probe(client, spec(site + "/broken", expect_status=503)).ok


def test_text_match_and_mismatch(site: str, client: httpx.Client) -> None:
    found = probe(client, spec(site + "/", expect_text="Welcome to chat"))
    assert found.ok and "found 'Welcome to chat'" in found.reason
    missing = probe(client, spec(site + "/", expect_text="Messages"))
    assert not missing.ok and missing.status == 200 and "'Messages' is not in the first" in missing.reason


def test_timeout_is_a_failed_probe_not_an_exception(site: str, client: httpx.Client) -> None:
    result = probe(client, spec(site + "/slow", timeout=0.3))
    assert not result.ok and result.status is None
    assert result.reason.startswith("timed out after 0.3s (read)") and result.elapsed_s < 1.2


def test_a_dripping_body_is_bounded_by_the_whole_timeout(site: str, client: httpx.Client) -> None:
    result = probe(client, spec(site + "/drip", timeout=0.5, expect_text="never"))
    assert not result.ok and result.status == 200 and "timed out after 0.5s reading the body" in result.reason
    assert result.elapsed_s < 1.2


def test_connection_refused(client: httpx.Client) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    result = probe(client, spec(f"http://user:s3cret@127.0.0.1:{port}/"))
    assert not result.ok and result.status is None
    assert result.reason.startswith(f"cannot reach http://***@127.0.0.1:{port}/: ConnectError")
    assert "s3cret" not in result.reason and "\n" not in result.reason
